"""What the pile remembers about cards, and its card settings: kept on flash as ``cards.json``.

- ``blocked``: UIDs (hex) the cloud blacklisted (lost or cancelled cards).
- ``seen``: the highest record counter seen on each card here; a card showing
  a lower one is an old dump written back (a replay) and is refused.
- ``owed``: sessions that ended here while the card still carries their
  open-session marker: UID -> [order no, port, fen back]. The fen go back on
  the card, and the marker comes off, at its next swipe here.

Pure: the shell saves ``record()`` after every change.
"""

from firmware.compat import const

_SEEN_MAX = const(200)
_OWED_MAX = const(64)
_BLOCKED_MAX = const(500)


class CardBook:
    """The pile's card memory and the card settings of its config."""

    def __init__(self, record, cfg):
        self.hold_fen = cfg["CARD_HOLD_FEN"]
        self.min_fen = cfg["CARD_MIN_FEN"]
        self.day_max = cfg["CARD_DAY_MAX"]
        self.repeat_ms = cfg["CARD_REPEAT_S"] * 1000
        self.blocked = []
        self.seen = {}
        self.owed = {}
        self.last_uid = None
        self.last_ms = 0
        if isinstance(record, dict):
            blocked, seen, owed = record.get("blocked"), record.get("seen"), record.get("owed")
            if isinstance(blocked, list):
                self.blocked = [uid for uid in blocked if isinstance(uid, str)]
            if isinstance(seen, dict):
                self.seen = {uid: count for uid, count in seen.items() if isinstance(count, int)}
            if isinstance(owed, dict):
                self.owed = {uid: entry for uid, entry in owed.items() if isinstance(entry, list) and len(entry) == 3}

    def record(self):
        """The book as a JSON-able dict for the flash."""
        return {"blocked": self.blocked, "seen": self.seen, "owed": self.owed}

    def saw(self, uid, counter):
        """The card ``uid`` now holds a record with ``counter``."""
        if counter > self.seen.get(uid, -1):
            self.seen[uid] = counter
        _trim(self.seen, _SEEN_MAX, uid)

    def owe(self, uid, order_no, port, fen):
        """A card session ended here: ``fen`` go back on the card ``uid`` at its next swipe."""
        self.owed[uid] = [order_no, port, fen]
        _trim(self.owed, _OWED_MAX, uid)

    def block(self, uids, unblock):
        """Apply the cloud's blacklist change: ``uids`` (hex) added, ``unblock`` removed."""
        for uid in unblock:
            if uid in self.blocked:
                self.blocked.remove(uid)
        for uid in uids:
            if uid not in self.blocked:
                self.blocked.append(uid)
        del self.blocked[: max(0, len(self.blocked) - _BLOCKED_MAX)]

    def settled(self, pairs):
        """The desk put these sessions' refunds on their cards ([uid, order no] pairs): owed here no more,
        so the card's old record written back can never be paid twice."""
        for uid, order_no in pairs:
            owed = self.owed.get(uid)
            if owed is not None and owed[0] == order_no:
                del self.owed[uid]


def _trim(entries, most, keep):
    # MicroPython's dicts keep no order, so not the oldest out: any but ``keep`` (the one just set). A
    # dropped ``seen`` only weakens that card's replay check; a dropped ``owed`` leaves it to the desk.
    for uid in list(entries):
        if len(entries) <= most:
            return
        if uid != keep:
            del entries[uid]
