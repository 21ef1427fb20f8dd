"""CBOR (RFC 8949) for the pile's messages: a compact subset, the same on MicroPython and CPython.

Encodes integers, byte and text strings, lists, dicts, booleans, None and
floats (written as float64); map keys are written in deterministic
(encoded-bytes) order, definite lengths only. The decoder is a module of its
own (firmware/cbor_decode.py): only commands need it, and they load it for
each one, so it is not in the pile's heap the rest of the time.
"""

import struct

from firmware.compat import const

_U16 = const(">H")
_U32 = const(">I")
_U64 = const(">Q")
_F64 = const(">d")

MAX_DEPTH = const(16)

_UNSIGNED = const(0)
_NEGATIVE = const(1)
_BYTES = const(2)
_TEXT = const(3)
_ARRAY = const(4)
_MAP = const(5)


class Encoded:
    """An item already encoded (``data``, its CBOR bytes), written into a message as it is: a record
    that waits to be sent keeps a few bytes rather than the objects they came from."""

    def __init__(self, data):
        self.data = data


def _head(out, major, value):
    """Append a major type and its argument in the shortest form."""
    top = major << 5
    if value < 24:
        out.append(top | value)
    elif value < 0x100:
        out.append(top | 24)
        out.append(value)
    elif value < 0x10000:
        out.append(top | 25)
        out.extend(struct.pack(_U16, value))
    elif value < 0x100000000:
        out.append(top | 26)
        out.extend(struct.pack(_U32, value))
    elif value < 0x10000000000000000:
        out.append(top | 27)
        out.extend(struct.pack(_U64, value))
    else:
        raise ValueError("integer too large for CBOR")


def _encode(out, value, depth):
    if depth > MAX_DEPTH:
        raise ValueError("nested too deep")
    if value is None:
        out.append(0xF6)
    elif value is True:
        out.append(0xF5)
    elif value is False:
        out.append(0xF4)
    elif isinstance(value, int):
        if value >= 0:
            _head(out, _UNSIGNED, value)
        else:
            _head(out, _NEGATIVE, -1 - value)
    elif isinstance(value, str):
        data = value.encode()
        _head(out, _TEXT, len(data))
        out.extend(data)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        _head(out, _BYTES, len(value))
        out.extend(value)
    elif isinstance(value, (list, tuple)):
        _head(out, _ARRAY, len(value))
        for item in value:
            _encode(out, item, depth + 1)
    elif isinstance(value, dict):
        # Keys in the order of their encoded bytes (RFC 8949 deterministic encoding): the same
        # message encodes the same on every port, whatever order its dict keeps.
        pairs = [(encode(key), item) for key, item in value.items()]
        pairs.sort(key=lambda pair: pair[0])
        _head(out, _MAP, len(pairs))
        for key, item in pairs:
            out.extend(key)
            _encode(out, item, depth + 1)
    elif isinstance(value, float):
        out.append(0xFB)
        out.extend(struct.pack(_F64, value))
    elif isinstance(value, Encoded):
        out.extend(value.data)
    else:
        raise TypeError("cannot encode %s as CBOR" % type(value).__name__)


def encode(value):
    """The CBOR bytes of ``value``."""
    out = bytearray()
    _encode(out, value, 0)
    return bytes(out)
