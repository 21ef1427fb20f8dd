"""The relay bank: only changed relays are written, and a hold from an interrupt keeps every relay open."""

from drivers.relays import RelayBank


class Pin:
    def __init__(self, on_write=None):
        self.level = None
        self.writes = 0
        self.on_write = on_write

    def value(self, level):
        self.level = level
        self.writes += 1
        if self.on_write is not None:
            self.on_write()


def test_apply_writes_only_the_relays_that_change():
    pins = [Pin() for _ in range(4)]
    bank = RelayBank(pins)
    bank.apply(bytearray((1, 0, 1, 0)))
    bank.apply(bytearray((1, 0, 1, 0)))
    assert [pin.level for pin in pins] == [1, 0, 1, 0]
    assert [pin.writes for pin in pins] == [2, 1, 2, 1]  # the first write is the bank's own all_off


def test_a_hold_keeps_every_relay_open_until_released():
    pins = [Pin() for _ in range(3)]
    bank = RelayBank(pins)
    bank.apply(bytearray((1, 1, 1)))
    bank.hold_off()
    assert [pin.level for pin in pins] == [0, 0, 0]
    bank.apply(bytearray((1, 1, 1)))
    assert [pin.level for pin in pins] == [0, 0, 0]
    bank.release()
    bank.apply(bytearray((1, 0, 1)))
    assert [pin.level for pin in pins] == [1, 0, 1]


def test_a_hold_that_comes_in_the_middle_of_an_apply_still_leaves_every_relay_open():
    pins = []
    bank = None

    def interrupt():
        if bank is not None and not bank.held_off:
            bank.hold_off()

    pins = [Pin(), Pin(on_write=interrupt), Pin(), Pin()]
    bank = RelayBank(pins)
    bank.apply(bytearray((1, 1, 1, 1)))  # the interrupt comes as the second relay is written
    assert [pin.level for pin in pins] == [0, 0, 0, 0]
