"""DL/T 645-2007 frames for the pile's main meter: read requests out, replies in (pure, no I/O).

A frame is ``68 A0..A5 68 C L DATA CS 16``, sent after up to four FE wake-up
bytes. The address is six BCD bytes, lowest first; ``AA`` bytes are wildcards
(shortened addressing; all six read any single meter). The data field is
sent with 0x33 added to each byte. CS is the byte sum from the first 68 up to
the data. In C, bit 7 marks a reply, bit 6 an abnormal reply (its one data
byte says why) and bit 5 a follow-up frame; the function is in bits 0..4
(0x11 read data). Values are BCD, lowest byte first; for signed quantities
the top bit of the highest byte is the sign.

Replies from the bus are untrusted and checked in place, in the caller's
buffer, so a good reply allocates nothing: anything malformed raises
ValueError (``ChecksumError`` for a bad checksum), an abnormal reply raises
``MeterRefused`` with its error bits.
"""

from firmware.compat import const

_NO_FRAME = const("no frame")
_BAD_LENGTH = const("bad length")
_NOT_BCD = const("not BCD")

_START = const(0x68)
_END = const(0x16)
_OFFSET = const(0x33)
_READ_DATA = const(0x11)
_REPLY_BIT = const(0x80)
_ABNORMAL_BIT = const(0x40)
_DATA_MAX = const(200)
WAKE = const(0xFE)
WILDCARD = b"\xaa\xaa\xaa\xaa\xaa\xaa"
REQUEST_BYTES = const(20)

# Data identifiers (DI3 DI2 DI1 DI0) the pile reads: (value bytes, decimals, signed).
FORWARD_ACTIVE_ENERGY = const(0x00010000)  # kWh, XXXXXX.XX
VOLTAGE_A = const(0x02010100)  # V, XXX.X
CURRENT_A = const(0x02020100)  # A, XXX.XXX, signed
ACTIVE_POWER = const(0x02030000)  # kW, XX.XXXX, signed
FIELDS = {
    FORWARD_ACTIVE_ENERGY: (4, 2, False),
    VOLTAGE_A: (2, 1, False),
    CURRENT_A: (3, 3, True),
    ACTIVE_POWER: (3, 4, True),
}


class MeterRefused(Exception):
    """The meter answered with an abnormal reply; ``args[0]`` holds its error bits (bit 1: no such data)."""


class ChecksumError(ValueError):
    """A frame whose checksum does not match its bytes: damaged on the line."""


def fill_request(frame, address, identifier):
    """Write into ``frame`` (a bytearray of REQUEST_BYTES) the request that asks the meter at
    ``address`` (six bytes, lowest first) for ``identifier``, wake-up bytes included."""
    frame[0:4] = b"\xfe\xfe\xfe\xfe"
    frame[4] = _START
    frame[5:11] = address
    frame[11] = _START
    frame[12] = _READ_DATA
    frame[13] = 4
    for index in range(4):
        frame[14 + index] = (identifier >> 8 * index & 0xFF) + _OFFSET & 0xFF
    total = 0
    for index in range(4, 18):
        total += frame[index]
    frame[18] = total & 0xFF
    frame[19] = _END
    return frame


def check_reply(frame, length):
    """Check the reply in ``frame[:length]`` (a bytearray) and remove the 0x33 from its data in place.

    Returns the index of its first 68H: the sender's address is ``frame[at + 1 : at + 7]``, the data
    ``frame[at + 10 : at + 10 + frame[at + 9]]``. Wake-up bytes before the frame are skipped.
    """
    at = 0
    while at < length and frame[at] == WAKE:
        at += 1
    if length - at < 12 or frame[at] != _START or frame[at + 7] != _START:
        raise ValueError(_NO_FRAME)
    size = frame[at + 9]
    if size > _DATA_MAX or length != at + 12 + size:
        raise ValueError(_BAD_LENGTH)
    end = at + 10 + size
    total = 0
    for index in range(at, end):
        total += frame[index]
    if total & 0xFF != frame[end]:
        raise ChecksumError("bad checksum")
    control = frame[at + 8]
    if frame[end + 1] != _END or not control & _REPLY_BIT:
        raise ValueError("not a reply")
    for index in range(at + 10, end):
        frame[index] = (frame[index] - _OFFSET) & 0xFF
    if control & _ABNORMAL_BIT:
        if size != 1:
            raise ValueError("abnormal reply without its error byte")
        raise MeterRefused(frame[at + 10])
    return at


def read_value(data, identifier, start, size):
    """The integer value (in units of 10^-decimals) of ``identifier`` in the read-data reply data
    ``data[start : start + size]`` (as ``check_reply`` left it)."""
    width, _, signed = FIELDS[identifier]
    if size != 4 + width:
        raise ValueError("bad data length")
    if data[start] | data[start + 1] << 8 | data[start + 2] << 16 | data[start + 3] << 24 != identifier:
        raise ValueError("reply for other data")
    value = 0
    last = start + size - 1
    for index in range(last, start + 3, -1):
        byte = data[index]
        if signed and index == last:
            byte &= 0x7F  # the sign bit
        if byte >> 4 > 9 or byte & 0x0F > 9:
            raise ValueError(_NOT_BCD)
        value = value * 100 + (byte >> 4) * 10 + (byte & 0x0F)
    return -value if signed and data[last] & 0x80 else value
