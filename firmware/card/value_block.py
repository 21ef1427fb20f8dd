"""MIFARE Classic value blocks: the form a card's increment, decrement and restore commands work on.

A value block keeps a signed 32-bit value three times, the middle copy
inverted, and a block address four times, the second and fourth inverted
(all little-endian). A block whose copies disagree is not a value block: a
torn write or a forgery, never a value to trust.
"""

from firmware.compat import const

_VALUE_MIN = const(-0x80000000)
_VALUE_MAX = const(0x7FFFFFFF)
_BYTES = const(16)


def encode(value, address, block):
    """Write ``value`` (signed 32-bit) and ``address`` (0-255) into the 16-byte ``block`` in value form."""
    if not _VALUE_MIN <= value <= _VALUE_MAX or not 0 <= address <= 255:
        raise ValueError("value block out of range")
    unsigned = value & 0xFFFFFFFF
    for index in range(4):
        byte = (unsigned >> (8 * index)) & 0xFF
        block[index] = byte
        block[4 + index] = byte ^ 0xFF
        block[8 + index] = byte
    block[12] = address
    block[13] = address ^ 0xFF
    block[14] = address
    block[15] = address ^ 0xFF


def decode(block):
    """(value, address) of a well-formed value block; None if it is short or any copy disagrees."""
    if len(block) < _BYTES:
        return None
    for index in range(4):
        byte = block[index]
        if block[4 + index] != byte ^ 0xFF or block[8 + index] != byte:
            return None
    address = block[12]
    if block[13] != address ^ 0xFF or block[14] != address or block[15] != address ^ 0xFF:
        return None
    value = block[0] | block[1] << 8 | block[2] << 16 | block[3] << 24
    if value > _VALUE_MAX:
        value -= 0x100000000
    return value, address
