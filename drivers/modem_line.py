"""What a board keeps of its 4G modem between the modem task's rounds.

The modem's drivers (AT engine, modem, PPP link) are loaded for each round
and forgotten after it (firmware/shell/modem_round.py): about 20 KB of code
that would otherwise sit in the heap for a minute to be used for a second or
two. What must outlive a round stays here: the UART and the PWRKEY pin, the
PPP session carrying the cloud link, and the state the drivers had.
"""


class ModemLine:
    """The modem's UART and PWRKEY pin, the PPP session, and the drivers' state between rounds."""

    def __init__(self, uart, power_pin, ppp_class=None):
        self.uart = uart
        self.power_pin = power_pin
        self.ppp_class = ppp_class
        self.ppp = None  # the PPP session once a round has dialled (network.PPP or the sim's stand-in)
        self.started = False  # the modem has answered and been set up
        self.clock_set = False  # the pile's clock has been set from the network's
        self.saved = None  # the drivers' state at the end of the last round (firmware/shell/modem_round.py)

    def isconnected(self):
        """True while the PPP session is up: the cloud link's packets can flow."""
        return self.ppp is not None and self.ppp.isconnected()
