"""The pile's flash: running sessions, the order outbox and counters, on littlefs.

Layout under the store's root (one small JSON file per record):

- ``counters.json``: next order number, coins waiting on the panel, last known wall time, boot history.
- ``sessions/<port>.json``: the running session of a port, rewritten on every change and every
  CHECKPOINT_S while charging; absent when the port is idle.
- ``outbox/<order no>.json``: orders not yet acknowledged by the broker; after its PUBACK the cloud
  link moves each over ``sent.json`` (firmware/shell/cloud.py), which so always holds the last order
  the cloud has, with the boot that made it: order and boot numbers go on from it even if
  ``counters.json`` is ever lost, since a number used twice would make the bridge take new records
  for copies of old ones.
- ``commands.json``: the answers to the last cloud commands, so a replayed command id is never acted
  on twice, even after a reboot (firmware/cloud/commands.py).
- ``cards.bin``: the card book (firmware/card/book.py): blacklist, last counters seen, refunds owed;
  binary, the records as the book holds them (as JSON, 764 hex UIDs took 62 KB of heap to parse).

Every write goes to a ``.tmp`` file first and is renamed over the old one, which littlefs does
atomically: after a cut at any block write a file is either its old or its new self. Small files
rather than a journal because each record is replaced whole and littlefs keeps small files inline in
its metadata, so a checkpoint costs a few block programs and no compaction logic of our own.

An order is written before its session file is removed; a session file whose order is already in the
outbox is a stop the cut interrupted, and is dropped at boot, so no order is lost or written twice.
A file that does not parse is renamed ``.bad`` (kept for the installer), never deleted.
"""

import errno
import json
import os

from firmware.compat import const
from firmware.shell.settings import exists

_COUNTERS = const("counters.json")
_COMMANDS = const("commands.json")
_CARDS = const("cards.bin")
_LAST_SENT = const("sent.json")
_SESSIONS = const("sessions")
_OUTBOX = const("outbox")


class Store:
    """Reads and writes the pile's records under ``root``; every method may raise OSError."""

    def __init__(self, root, log):
        self.root = root
        self.log = log
        for folder in (root, root + "/" + _SESSIONS, root + "/" + _OUTBOX):
            if not exists(folder):
                os.mkdir(folder)
        self._outbox = None

    def _write(self, path, record):
        temporary = path + ".tmp"
        with open(temporary, "w") as handle:
            handle.write(json.dumps(record))
        os.rename(temporary, path)

    def _read(self, path):
        """The record at ``path``; None if absent or not parseable (kept as .bad).

        Any other read error is raised: a flash that cannot be read must not
        look empty (that would restart order numbers at 1).
        """
        try:
            with open(path) as handle:
                text = handle.read()
        except OSError as error:
            if error.args[0] == errno.ENOENT:
                return None
            raise
        try:
            return json.loads(text)
        except ValueError:
            self.log("store: %s does not parse; kept as %s.bad" % (path, path))
            os.rename(path, path + ".bad")
            return None

    def counters(self):
        """The counters record (an empty dict on a fresh flash)."""
        record = self._read(self.root + "/" + _COUNTERS)
        return record if isinstance(record, dict) else {}

    def save_counters(self, record):
        """Replace the counters record."""
        self._write(self.root + "/" + _COUNTERS, record)

    def commands(self):
        """The command ledger's record (firmware/cloud/commands.py), or None on a fresh flash."""
        return self._read(self.root + "/" + _COMMANDS)

    def save_commands(self, record):
        """Replace the command ledger's record."""
        self._write(self.root + "/" + _COMMANDS, record)

    def cards(self, load):
        """Hand the card book's file, open, to ``load`` (firmware/card/book.py), if there is a book; False
        if ``load`` refused it: the file is then kept as .bad, out of the way of the next book."""
        path = self.root + "/" + _CARDS
        try:
            with open(path, "rb") as handle:
                loaded = load(handle)
        except OSError as error:
            if error.args[0] == errno.ENOENT:
                return True
            raise
        if loaded:
            return True
        self.log("store: %s is not a card book; kept as %s.bad" % (path, path))
        os.rename(path, path + ".bad")
        return False

    def save_cards(self, parts):
        """Replace the card book with ``parts`` (buffers, written in order)."""
        path = self.root + "/" + _CARDS
        temporary = path + ".tmp"
        with open(temporary, "wb") as handle:
            for part in parts:
                handle.write(part)
        os.rename(temporary, path)

    def sessions(self):
        """[(port, snapshot)] of the sessions saved as running; interrupted stops are cleaned up."""
        folder = self.root + "/" + _SESSIONS
        found = []
        for name in sorted(os.listdir(folder)):
            path = folder + "/" + name
            if name.endswith(".tmp"):
                os.remove(path)
                continue
            if not name.endswith(".json"):
                continue
            snapshot = self._read(path)
            if not isinstance(snapshot, dict) or "no" not in snapshot:
                continue
            if exists(self._order_path(snapshot["no"])):
                os.remove(path)
                continue
            found.append((int(name[:-5]), snapshot))
        return found

    def save_session(self, port, snapshot):
        """Replace port ``port``'s session record."""
        self._write("%s/%s/%d.json" % (self.root, _SESSIONS, port), snapshot)

    def set_aside_session(self, port):
        """Keep a session record the firmware could not use as ``.bad``, for the installer."""
        path = "%s/%s/%d.json" % (self.root, _SESSIONS, port)
        if exists(path):
            os.rename(path, path + ".bad")

    def drop_session(self, port):
        """Remove port ``port``'s session record (its order is already in the outbox)."""
        path = "%s/%s/%d.json" % (self.root, _SESSIONS, port)
        if exists(path):
            os.remove(path)

    def _order_path(self, number):
        return "%s/%s/%08d.json" % (self.root, _OUTBOX, number)

    def put_order(self, order):
        """Add an order to the outbox (replacing a copy a cut left half-done)."""
        path = self._order_path(order["no"])
        fresh = not exists(path)
        self._write(path, order)
        if fresh and self._outbox is not None:
            self._outbox += 1

    def order_sent(self, number):
        """The broker has order ``number``: it leaves the outbox and becomes the last sent (one rename)."""
        path = self._order_path(number)
        if exists(path):
            os.rename(path, self.root + "/" + _LAST_SENT)
            if self._outbox is not None:
                self._outbox -= 1

    def last_sent(self):
        """(order number, boot) of the last order the broker acknowledged; (0, 0) if none or unreadable."""
        record = self._read(self.root + "/" + _LAST_SENT)
        if not isinstance(record, dict):
            return 0, 0
        number = record.get("no")
        boot = record.get("boot")
        return (number if isinstance(number, int) else 0), (boot if isinstance(boot, int) else 0)

    def set_aside_order(self, number):
        """Keep an outbox file that is not a sendable order as ``.bad``, out of the queue."""
        path = self._order_path(number)
        if exists(path):
            os.rename(path, path + ".bad")
            if self._outbox is not None:
                self._outbox -= 1

    def order_numbers(self):
        """The numbers of the orders in the outbox, ascending."""
        folder = self.root + "/" + _OUTBOX
        return sorted(int(name[:-5]) for name in os.listdir(folder) if name.endswith(".json"))

    def order(self, number):
        """The outbox order ``number``, or None (absent, or kept aside as .bad)."""
        record = self._read(self._order_path(number))
        if record is None:
            self._outbox = None  # counted again: a file set aside no longer waits
        return record

    def outbox_count(self):
        """How many orders wait in the outbox."""
        if self._outbox is None:
            self._outbox = len([n for n in os.listdir(self.root + "/" + _OUTBOX) if n.endswith(".json")])
        return self._outbox

    def orders(self):
        """Every order in the outbox, oldest first."""
        folder = self.root + "/" + _OUTBOX
        found = []
        for name in sorted(os.listdir(folder)):
            if name.endswith(".json"):
                order = self._read(folder + "/" + name)
                if isinstance(order, dict):
                    found.append(order)
        return found
