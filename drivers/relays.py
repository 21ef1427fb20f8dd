"""A bank of port relays, each on its own output pin (through a ULN2803-style driver)."""


class RelayBank:
    """Drives relay coils; ``apply`` writes only the relays whose wanted state changed."""

    def __init__(self, pins, active_high=True):
        self.pins = pins
        self.on_level = 1 if active_high else 0
        self.state = bytearray(len(pins))
        self.all_off()

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
            if state[index] != wanted[index]:
                state[index] = wanted[index]
                self.pins[index].value(on_level if wanted[index] else 1 - on_level)
