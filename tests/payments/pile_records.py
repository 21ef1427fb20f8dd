"""A pile's records (births, statuses, telemetry, QR orders), published by the fake pile that also answers
the commands (tests/bridge/command_pile.py), so that records and answers share one numbering as on a real
pile; each is awaited until the real bridge has stored it."""

from __future__ import annotations

import cbor2

from cloud_bridge.db import Database
from tests.bridge.command_pile import CommandPile
from tests.bridge.helpers import count, wait_until
from tests.bridge.piles import T0

IDLE, QUEUED, WAIT_PLUG, CHARGING, STOPPED = range(5)


class PileRecords:
    """What ``pile`` tells the bridge; ``db`` is where the bridge stores it."""

    def __init__(self, pile: CommandPile, db: Database, ports: int = 10) -> None:
        self.pile, self.db, self.ports = pile, db, ports

    def _record(self, kind: str, body: dict) -> int:
        """Publish a record with the pile's next seq and wait until it is stored; its seq."""
        seq = cbor2.loads(self.pile.record(kind, body))[1]
        where = {"pile": self.pile.pile, "boot": self.pile.boot, "seq": seq}
        wait_until(lambda: count(self.db, "records", **where) == 1, what="%s %d stored" % (kind, seq))
        return seq

    def online(self, states: dict[int, int] | None = None) -> None:
        """Connect: birth, online, and every port's telemetry (idle unless ``states`` says otherwise)."""
        self.pile.birth_seq = self._record("birth", {3: "1.5.0", 4: 1, 5: self.ports, 6: 0})
        self.status(True)
        states = states or {}
        self.telemetry([[port, states.get(port, IDLE), 0, -1] for port in range(1, self.ports + 1)])

    def status(self, online: bool) -> None:
        """The connection's online status, or its will (offline). Not retained, unlike a real pile's: the
        broker is shared by the tests, and a retained status would reach the next test's bridge."""
        pile, boot, birth_seq = self.pile.pile, self.pile.boot, self.pile.birth_seq
        self.pile.publish("status", cbor2.dumps({0: boot, 1: birth_seq, 2: T0 + birth_seq, 3: online}))
        where = {"pile": pile, "boot": boot, "birth_seq": birth_seq, "online": online}
        wait_until(lambda: count(self.db, "presence", **where) == 1, what="status %s stored" % online)

    def telemetry(self, readings: list[list[int]]) -> None:
        self._record("tele", {3: readings})

    def order(self, order_no: int, port: int, paid: int, used: int, returned: int, ref: str, stop: str) -> None:
        """A QR order (method ``qr``) carrying its payment reference (key 16)."""
        body = {3: order_no, 4: port, 5: "qr", 6: T0, 7: T0 + 600, 8: 20, 9: 600, 10: paid, 11: used}
        self._record("order", {**body, 12: returned, 13: 0, 14: 1, 15: stop, 16: ref})
