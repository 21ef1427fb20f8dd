"""Decoding register words into scaled integers, without making floats.

Values come from a memoryview of big-endian register bytes. A float32 is
decoded with integer arithmetic kept under 2**30 so that on a 32-bit port
no big integer (a heap object) is made per reading.
"""

from firmware.compat import const

INVALID = const(-(1 << 29))
_MANTISSA_KEEP_SHIFT = const(4)


def word(data, register):
    """Unsigned 16-bit register ``register`` (index into ``data``)."""
    offset = register * 2
    return (data[offset] << 8) | data[offset + 1]


def f32_scaled(high, low, scale):
    """IEEE 754 single from two words, times ``scale`` (<= 1000), rounded to an int.

    INVALID for NaN and infinity. Mantissa precision kept: 20 bits.
    """
    exponent = (high >> 7) & 0xFF
    if exponent == 0:
        return 0
    if exponent == 0xFF:
        return INVALID
    mantissa = ((high & 0x7F) << 16 | low | 0x800000) >> _MANTISSA_KEEP_SHIFT
    value = mantissa * scale
    shift = 150 - _MANTISSA_KEEP_SHIFT - exponent
    if shift > 0:
        value = 0 if shift > 40 else (value + (1 << (shift - 1))) >> shift
    elif shift < 0:
        value = INVALID if shift < -8 else value << -shift
    if high & 0x8000 and value != INVALID:
        return -value
    return value


def decode(data, register, kind, scale, big_word_first):
    """The value of type ``kind`` at ``register`` in ``data``, times ``scale``."""
    first = word(data, register)
    if kind == "u16":
        return first * scale
    if kind == "s16":
        return (first - 0x10000 if first & 0x8000 else first) * scale
    if big_word_first:
        high = first
        low = word(data, register + 1)
    else:
        high = word(data, register + 1)
        low = first
    if kind == "f32":
        return f32_scaled(high, low, scale)
    value = (high << 16) | low
    if kind == "s32" and high & 0x8000:
        value -= 0x100000000
    return value * scale
