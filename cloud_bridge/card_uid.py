"""A card's UID as the bridge, the desk and the piles' orders spell it: lower-case hex.

The piles' readers select at cascade level 1 only, so every card of the site has a 4-byte UID
(docs/cards.md); an order of a card session carries it as its payment reference (order key 16).
"""

from __future__ import annotations

import re

UID_BYTES = 4
_UID_HEX = re.compile(r"[0-9a-f]{%d}\Z" % (2 * UID_BYTES))


def is_uid_hex(text: str) -> bool:
    """Whether ``text`` is a card UID as stored: ``UID_BYTES`` bytes in lower-case hex."""
    return _UID_HEX.match(text) is not None


def uid_hex(uid: bytes) -> str:
    """The stored spelling of the UID ``uid``."""
    return bytes(uid).hex()


def parse_uid(text: str) -> str:
    """``text`` (any case, with or without ``:`` between bytes) as a stored UID; ``ValueError`` if it is none."""
    spelled = text.strip().lower().replace(":", "")
    if not is_uid_hex(spelled):
        raise ValueError("%r is not a card UID (%d bytes in hex, e.g. a1b2c3d4)" % (text, UID_BYTES))
    return spelled
