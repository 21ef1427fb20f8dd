"""HMAC-SHA256 and a constant-time comparison: what signed commands and IC cards are checked with.

MicroPython has no hmac module; hashlib's SHA-256 is built in on every port.
"""

import hashlib

from firmware.compat import const

_BLOCK_BYTES = const(64)


def hmac_sha256(key, message):
    """HMAC-SHA256 (RFC 2104) of ``message`` under ``key``."""
    if len(key) > _BLOCK_BYTES:
        key = hashlib.sha256(key).digest()
    inner = bytearray(_BLOCK_BYTES)
    outer = bytearray(_BLOCK_BYTES)
    for index in range(_BLOCK_BYTES):
        byte = key[index] if index < len(key) else 0
        inner[index] = byte ^ 0x36
        outer[index] = byte ^ 0x5C
    digest = hashlib.sha256(inner)
    digest.update(message)
    result = hashlib.sha256(outer)
    result.update(digest.digest())
    return result.digest()


def same_bytes(a, b):
    """Compare in time that does not depend on where the first difference is."""
    if len(a) != len(b):
        return False
    difference = 0
    for index in range(len(a)):
        difference |= a[index] ^ b[index]
    return difference == 0
