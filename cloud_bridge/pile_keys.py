"""The piles the bridge may command, and their keys (table ``piles``).

A pile's key is 32 random bytes made by ``pilectl broker add-pile`` and written, as 64 hex digits, into
the pile's credentials file ``piles/<id>.json`` (``"key"``), from which provisioning copies it into the
pile's ``identity.json``. ``cloud-bridge pile add <id> --key-file piles/<id>.json`` copies it into the
bridge's database: the bridge needs no access to the broker's accounts folder, and the broker host never
needs the keys. A key is a secret: nothing here logs or prints it.
"""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

from cloud_bridge.db import Database
from cloud_bridge.signing import KEY_BYTES

log = logging.getLogger(__name__)

PILE_ID = re.compile(r"[A-Za-z0-9_-]{1,32}\Z")
_HEX_KEY = re.compile(r"[0-9a-f]{%d}\Z" % (2 * KEY_BYTES))


class UnknownPile(LookupError):
    """A pile the bridge has no key for."""


def read_key_file(path: Path | str, pile: str) -> str:
    """The key (hex) in ``pile``'s credentials file; ``ValueError`` (without the key in it) if the file is
    not ``pile``'s or holds no well-formed key."""
    try:
        credentials = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ValueError("%s: not a readable credentials file (%s)" % (path, type(error).__name__)) from None
    if not isinstance(credentials, dict) or credentials.get("pile") != pile:
        raise ValueError("%s is not pile %r's credentials file" % (path, pile))
    key = credentials.get("key")
    if not isinstance(key, str) or not _HEX_KEY.match(key):
        raise ValueError("%s has no key of %d hex digits (made by an older pilectl broker?)" % (path, 2 * KEY_BYTES))
    return key


def add(db: Database, pile: str, key_hex: str) -> bool:
    """Give ``pile`` its key; True if it is new, False if it had one (replaced: its command ids go on)."""
    if not PILE_ID.match(pile):
        raise ValueError("invalid pile id %r" % pile)
    if not _HEX_KEY.match(key_hex):
        raise ValueError("a key is %d lower-case hex digits" % (2 * KEY_BYTES))
    with db.transaction():
        known = db.query("SELECT 1 FROM piles WHERE pile = ?", (pile,))
        if known:
            db.execute("UPDATE piles SET key = ? WHERE pile = ?", (key_hex, pile))
        else:
            db.insert("piles", [(pile, key_hex, 1, 0, 0, 0, None, time.time())])
    log.info("pile %s: key %s", pile, "replaced" if known else "added")
    return not known


def key(db: Database, pile: str) -> bytes:
    """``pile``'s key; ``UnknownPile`` if it has none."""
    rows = db.query("SELECT key FROM piles WHERE pile = ?", (pile,))
    if not rows:
        raise UnknownPile("no key for pile %r (cloud-bridge pile add)" % pile)
    return bytes.fromhex(rows[0][0])


def piles(db: Database) -> list[str]:
    """The piles with a key."""
    return [pile for (pile,) in db.query("SELECT pile FROM piles ORDER BY pile")]
