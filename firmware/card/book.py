"""What the pile remembers about cards, and its card settings: kept on flash as ``cards.bin``.

- ``blocked``: UIDs the cloud blacklisted (lost or cancelled cards).
- ``seen``: the highest record counter seen on each card here; a card showing
  a lower one is an old dump written back (a replay) and is refused.
- ``owed``: sessions that ended here while the card still carries their
  open-session marker: UID -> (order no, port, fen back, counter). The fen go
  back on the card, and the marker comes off, at its next swipe here; the
  counter is that of the refund's record while the pile writes it (0 before):
  a card pulled before the pile read it back may hold the refund or not.

Each is a table of fixed-size records packed in one bytearray, oldest first,
that grows with its records: a full book is 4.6 KB, where dicts and lists of
hex strings took 62 KB of heap on the host VM (31 KB on the board). A full
table drops its oldest record for a new one. The cards' UIDs are 4 bytes (the
reader selects one cascade level); tables take them in hex, as orders carry them.

Pure: the shell makes a book, ``load``s its tables from flash for a swipe, a
session's end or a command, saves ``record()`` after a change and drops the
book and this module again, so neither is in the heap while not used. What
must outlive a book (the last card written, for the too-quick check) is the
shell's ``last``, a list the book shares.
"""

import struct
from binascii import unhexlify

from firmware.compat import const

_BLOCKED_MAX = const(500)
_SEEN_MAX = const(200)
_OWED_MAX = const(64)
_UID_HEX = const(8)
_BLOCKED_FORMAT = const("<4s")
_SEEN_FORMAT = const("<4sI")  # uid, counter
_OWED_FORMAT = const("<4sIHII")  # uid, order no, port, fen, counter of the refund being written
# The file: magic, layout version, then how many records each table holds; the records follow.
_HEADER_FORMAT = const("<2sBHHH")
_MAGIC = const(b"CB")
_VERSION = const(1)


class _Table:
    """Records of ``format`` (the first field a card UID), at most ``most``, packed oldest first."""

    def __init__(self, format, most):
        self.format = format
        self.size = struct.calcsize(format)
        self.most = most
        self.buf = bytearray()

    def __len__(self):
        return len(self.buf) // self.size

    def index(self, uid):
        """Where the record of ``uid`` (hex, or its 4 bytes) is; -1 if there is none."""
        if isinstance(uid, str):
            uid = unhexlify(uid)
        buf = self.buf
        size = self.size
        first = uid[0]
        for at in range(0, len(buf), size):
            # The slice is made only when the first byte matches: 1 record in 256.
            if buf[at] == first and buf[at : at + 4] == uid:
                return at // size
        return -1

    def get(self, uid):
        """The fields after the UID in ``uid``'s record (a tuple), or None."""
        i = self.index(uid)
        return None if i < 0 else struct.unpack_from(self.format, self.buf, i * self.size)[1:]

    def remove(self, uid):
        """Drop ``uid``'s record, if any."""
        i = self.index(uid)
        if i >= 0:
            self.pop(i)

    def pop(self, i):
        """Drop the ``i``-th record."""
        at = i * self.size
        self.buf[at : at + self.size] = b""

    def append(self, uid, *fields):
        """Make ``uid``'s record the newest, with ``fields``; the oldest goes if the table is full."""
        key = unhexlify(uid)
        self.remove(key)
        if len(self) >= self.most:
            self.pop(0)
        self.buf.extend(struct.pack(self.format, key, *fields))


class CardBook:
    """The pile's card memory and the card settings of its config; ``last`` is [UID, ms] of the last card
    written, kept by the caller from one book to the next."""

    def __init__(self, cfg, last):
        self.hold_fen = cfg["CARD_HOLD_FEN"]
        self.min_fen = cfg["CARD_MIN_FEN"]
        self.day_max = cfg["CARD_DAY_MAX"]
        self.repeat_ms = cfg["CARD_REPEAT_S"] * 1000
        self.blocked = _Table(_BLOCKED_FORMAT, _BLOCKED_MAX)
        self.seen = _Table(_SEEN_FORMAT, _SEEN_MAX)
        self.owed = _Table(_OWED_FORMAT, _OWED_MAX)
        self.last = last

    def load(self, stream):
        """Read the tables from ``stream`` (a file ``record()`` wrote) straight into their buffers, so a
        full book needs no more heap than its tables; False, the book left empty, if it is not one."""
        if self._read(stream):
            return True
        for table in (self.blocked, self.seen, self.owed):
            table.buf = bytearray()
        return False

    def _read(self, stream):
        header = stream.read(struct.calcsize(_HEADER_FORMAT))
        if len(header) != struct.calcsize(_HEADER_FORMAT):
            return False
        magic, version, *counts = struct.unpack(_HEADER_FORMAT, header)
        if magic != _MAGIC or version != _VERSION:
            return False
        tables = (self.blocked, self.seen, self.owed)
        for i in range(3):
            if counts[i] > tables[i].most:
                return False
            buf = bytearray(counts[i] * tables[i].size)
            if buf and stream.readinto(buf) != len(buf):
                return False
            tables[i].buf = buf
        return not stream.read(1)

    def record(self):
        """The book as buffers to write to flash, in order."""
        blocked, seen, owed = self.blocked, self.seen, self.owed
        header = struct.pack(_HEADER_FORMAT, _MAGIC, _VERSION, len(blocked), len(seen), len(owed))
        return header, blocked.buf, seen.buf, owed.buf

    def seen_count(self, uid):
        """The highest record counter seen here on the card ``uid``; -1 if none is remembered."""
        fields = self.seen.get(uid)
        return -1 if fields is None else fields[0]

    def saw(self, uid, counter):
        """The card ``uid`` now holds a record with ``counter``."""
        self.seen.append(uid, max(counter, self.seen_count(uid)))

    def owe(self, uid, order_no, port, fen):
        """A card session ended here: ``fen`` go back on the card ``uid`` at its next swipe."""
        self.owed.append(uid, order_no, port, fen, 0)

    def block(self, uids, unblock):
        """Apply the cloud's blacklist change: ``uids`` (hex) added, ``unblock`` removed. A UID of
        another length than the reader's can never be read here and is passed over."""
        for uid in unblock:
            if len(uid) == _UID_HEX:
                self.blocked.remove(uid)
        for uid in uids:
            if len(uid) == _UID_HEX and self.blocked.index(uid) < 0:
                self.blocked.append(uid)

    def settled(self, pairs):
        """The desk asks to pay these sessions' refunds itself ([uid, order no] pairs): owed here no more,
        so the card's old record written back can never be paid twice. One answer per pair, for the desk to
        write the card on: [1 if this pile owed it until now else 0, the highest counter seen on the card
        here, or written to it, or -1]; an owed 0 with a counter above the card's means the pile paid it (the
        card is a dump). A refund whose write the pile never read back stays owed: only the card's next
        swipe here tells whether it holds it, and the counter it may hold is answered."""
        answers = []
        for uid, order_no in pairs:
            if len(uid) != _UID_HEX:
                answers.append([0, -1])
                continue
            owed = self.owed.get(uid)
            seen = self.seen_count(uid)
            released = owed is not None and owed[0] == order_no and not owed[3]
            if released:
                self.owed.remove(uid)
            elif owed is not None and owed[3]:
                seen = max(seen, owed[3])
            answers.append([int(released), seen])
        return answers
