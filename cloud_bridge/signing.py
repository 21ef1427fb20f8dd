"""Building and signing a command for one pile (docs/cloud-protocol.md, "Commands").

The body is the CBOR map {0 id, 1 kind, 2 expires, 3 issued, 4.. arguments}; the envelope is the CBOR
array [body bytes, mac], where mac is the first ``MAC_BYTES`` of HMAC-SHA256(pile key, "<pile id>\\n" +
body). The pile checks the MAC over the body bytes as received, so they are encoded once, here, and
kept: a command sent again is the same envelope.
"""

from __future__ import annotations

import hashlib
import hmac

import cbor2

MAC_BYTES = 16
KEY_BYTES = 32
ID, KIND, EXPIRES, ISSUED, FIRST_ARGUMENT = 0, 1, 2, 3, 4


def mac(key: bytes, pile: str, body: bytes) -> bytes:
    """The MAC of ``body`` for ``pile`` under ``key``."""
    return hmac.new(key, pile.encode() + b"\n" + body, hashlib.sha256).digest()[:MAC_BYTES]


def body(command_id: int, kind: str, expires: int, issued: int, arguments: tuple = ()) -> bytes:
    """The CBOR command map; ``arguments`` take keys 4, 5, ... in order."""
    fields = {ID: command_id, KIND: kind, EXPIRES: expires, ISSUED: issued}
    fields.update(enumerate(arguments, FIRST_ARGUMENT))
    return cbor2.dumps(fields)


def envelope(key: bytes, pile: str, command_body: bytes) -> bytes:
    """The signed envelope ``[body, mac]`` published to ``pile/<pile>/down/cmd``."""
    return cbor2.dumps([command_body, mac(key, pile, command_body)])
