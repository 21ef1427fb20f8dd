"""CBOR (RFC 8949) decoding of the subset firmware/cbor.py writes, for commands from the cloud.

Definite lengths only; tags and indefinite lengths are refused. Decoding
untrusted bytes raises ValueError for anything malformed (truncated, trailing
bytes, too deep, a length past the end), never anything else, and never
allocates more than the input could hold.
"""

import struct

from firmware.cbor import MAX_DEPTH
from firmware.compat import const

_U16 = const(">H")
_U32 = const(">I")
_U64 = const(">Q")
_F64 = const(">d")
_F32 = const(">f")

# The major types (RFC 8949 §3.1); MicroPython folds private consts per module, so each codec half has them.
_UNSIGNED = const(0)
_NEGATIVE = const(1)
_BYTES = const(2)
_TEXT = const(3)
_ARRAY = const(4)
_MAP = const(5)
_TAG = const(6)
_SIMPLE = const(7)


class _Reader:
    """A position in the input; every read checks it stays inside."""

    def __init__(self, data):
        self.data = memoryview(data)
        self.at = 0

    def take(self, count):
        end = self.at + count
        if count < 0 or end > len(self.data):
            raise ValueError("truncated CBOR")
        chunk = self.data[self.at : end]
        self.at = end
        return chunk

    def argument(self, info):
        if info < 24:
            return info
        if info == 24:
            return self.take(1)[0]
        if info == 25:
            return struct.unpack(_U16, self.take(2))[0]
        if info == 26:
            return struct.unpack(_U32, self.take(4))[0]
        if info == 27:
            return struct.unpack(_U64, self.take(8))[0]
        raise ValueError("indefinite length or reserved value")

    def item(self, depth):
        if depth > MAX_DEPTH:
            raise ValueError("nested too deep")
        initial = self.take(1)[0]
        major = initial >> 5
        info = initial & 0x1F
        if major == _SIMPLE:
            return self._simple(info)
        value = self.argument(info)
        if major == _UNSIGNED:
            return value
        if major == _NEGATIVE:
            return -1 - value
        if major == _BYTES:
            return bytes(self.take(value))
        if major == _TEXT:
            try:
                return bytes(self.take(value)).decode()
            except UnicodeError:
                raise ValueError("text is not UTF-8") from None
        if major == _ARRAY:
            # Each element takes at least one byte: a length past the input is refused before allocating.
            self._fits(value)
            return [self.item(depth + 1) for _ in range(value)]
        if major == _TAG:
            raise ValueError("tags are not used in these messages")
        if major == _MAP:
            self._fits(2 * value)
            result = {}
            for _ in range(value):
                key = self.item(depth + 1)
                if isinstance(key, (list, dict)):
                    raise ValueError("map key must be a scalar")
                result[key] = self.item(depth + 1)
            return result
        raise ValueError("unknown major type %d" % major)

    def _fits(self, count):
        if count > len(self.data) - self.at:
            raise ValueError("length past the end of the input")

    def _simple(self, info):
        if info == 20:
            return False
        if info == 21:
            return True
        if info == 22 or info == 23:
            return None
        if info == 25:
            return _half(struct.unpack(_U16, self.take(2))[0])
        if info == 26:
            return struct.unpack(_F32, self.take(4))[0]
        if info == 27:
            return struct.unpack(_F64, self.take(8))[0]
        raise ValueError("unsupported simple value %d" % info)


def _half(bits):
    """An IEEE 754 half-precision float (cbor2 writes small floats this way)."""
    exponent = (bits >> 10) & 0x1F
    mantissa = bits & 0x3FF
    if exponent == 0:
        value = mantissa * 2.0**-24
    elif exponent == 0x1F:
        value = float("inf") if mantissa == 0 else float("nan")
    else:
        value = (mantissa + 1024) * 2.0 ** (exponent - 25)
    return -value if bits & 0x8000 else value


def decode(data):
    """The value in ``data`` (bytes); ValueError if it is not exactly one well-formed item."""
    reader = _Reader(data)
    value = reader.item(0)
    if reader.at != len(reader.data):
        raise ValueError("trailing bytes after CBOR item")
    return value
