"""A bank of port relays, each on its own output pin (through a ULN2803-style driver)."""


class RelayBank:
    """Drives relay coils; ``apply`` writes only the relays whose wanted state changed.

    ``held_off`` (set by ``hold_off``, from an interrupt) keeps every relay open whatever ``apply`` is
    asked, even an ``apply`` the interrupt came in the middle of, until ``release``.
    """

    def __init__(self, pins, active_high=True):
        self.pins = pins
        self.on_level = 1 if active_high else 0
        self.state = bytearray(len(pins))
        self.held_off = False
        self.all_off()

    def hold_off(self):
        """Open every relay now and keep them open until ``release``."""
        self.held_off = True
        self.all_off()

    def release(self):
        """``apply`` may close relays again."""
        self.held_off = False

    def all_off(self):
        """Open every relay, whatever the bank believes its state is."""
        off = 1 - self.on_level
        for index, pin in enumerate(self.pins):
            pin.value(off)
            self.state[index] = 0

    def apply(self, wanted):
        """Make the relays match ``wanted`` (a bytearray of 0/1 per port)."""
        state = self.state
        on_level = self.on_level
        for index in range(len(state)):
            on = wanted[index] and not self.held_off
            if state[index] != on:
                state[index] = on
                self.pins[index].value(on_level if on else 1 - on_level)
