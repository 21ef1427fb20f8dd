"""The pile's main meter: one DL/T 645-2007 meter alone on its own half-duplex RS-485 line.

What stays in memory is only the line and the state between reads (this
module). The protocol's code (``drivers/main_meter_read.py`` and the codec)
is loaded for each read and dropped after it by the main meter task: a read
comes every 15 minutes, and in between the heap belongs to the pile (a TLS
handshake needs most of what is free). The buffers are made once, here.
"""

from firmware.compat import const

REQUEST_BYTES = 20  # dlt645.REQUEST_BYTES: four wake-up bytes and a read request
_RX_BYTES = const(40)  # a read reply is at most 28 bytes with its wake-up bytes: more is garbage


class MainMeterReading:
    """The latest complete reading, in integers: Wh, 0.1 V, mA and W (current and power signed:
    negative is reverse flow). ``fresh`` counts readings taken since a consumer last set it to 0."""

    def __init__(self):
        self.energy_wh = 0
        self.voltage_dv = 0
        self.current_ma = 0
        self.power_w = 0
        self.fresh = 0


class MainMeterReader:
    """The main meter's line (a UART at ``baudrate``, ``bits_per_char`` bits a byte, and its RS-485
    DE pin) and what reads leave: ``reading``, the meter's ``address`` (six bytes, lowest first; AA
    wildcards until it answers), failure counts by kind in ``errors`` (``last_error`` the latest),
    and ``silent``, True after a read that heard nothing intelligible."""

    def __init__(self, uart, baudrate, de_pin, bits_per_char=11):
        self.uart = uart
        self.de_pin = de_pin
        self.char_us = bits_per_char * 1000000 // baudrate
        self.reading = MainMeterReading()
        self.address = bytearray(b"\xaa\xaa\xaa\xaa\xaa\xaa")
        self.requests_for = bytearray(6)  # the address the requests were built for
        self.requests = [bytearray(REQUEST_BYTES) for _ in range(4)]
        self.rx = bytearray(_RX_BYTES)
        self.byte = bytearray(1)
        self.values = [0, 0, 0, 0]
        self.errors = {"timeout": 0, "checksum": 0, "garbage": 0, "refused": 0}
        self.last_error = ""
        self.silent = False
        de_pin.value(0)

    def address_text(self):
        """The meter's 12-digit address as printed on it (AAAAAAAAAAAA until it has answered)."""
        return "%02X%02X%02X%02X%02X%02X" % tuple(reversed(self.address))
