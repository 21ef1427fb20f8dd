"""Writes batches of decoded messages to the database in one transaction each, every message once.

A record adds rows only if its (pile, boot, seq) is not stored yet; the ledger of each boot
(``sequence.BootLedger``) answers that from memory. It is loaded from the database the first time a
boot shows up in this process and kept in step with it: a batch that fails to commit drops the
ledgers it touched, so they are read again. Orders are deduplicated by (pile, order no) as well,
statuses (not records) by their presence key, rejects by digest, all by the database's keys
(``Database.insert``). One bridge writes to a database at a time; should another write records meanwhile,
the conflict costs a second try, never a second row.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence

from cloud_bridge.db import COLUMNS, Database
from cloud_bridge.schema import Ack, Alarm, Birth, Message, Meter, Order, Reject, Status, Telemetry
from cloud_bridge.sequence import BootLedger, Gap

log = logging.getLogger(__name__)

# Keyed by (pile, boot, seq): a row reaches them only for a record its ledger has just admitted as new.
_LEDGER_TABLES = {"records", "births", "alarms", "telemetry", "meters", "acks"}

Arrival = tuple[Message, float]  # a decoded message and when the bridge received it


def reject_digest(topic: str, payload: bytes) -> str:
    """The key of a reject: the same message delivered again is the same reject."""
    return hashlib.sha256(topic.encode() + b"\0" + payload).hexdigest()[:32]


def _first_of_each_order(rows: list[tuple]) -> list[tuple]:
    """One row per (pile, order no): a batch may hold an order and its re-sending after a reboot, and which
    of the two a multi-row insert keeps is not defined; the first delivery is the one kept."""
    first: dict[tuple, tuple] = {}
    for row in rows:
        first.setdefault(row[:2], row)
    return list(first.values())


class Store:
    """Turns decoded messages into rows, skipping what is already stored."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._ledgers: dict[tuple[str, int], BootLedger] = {}
        self._latest_boot: dict[str, int] = {}

    def write(self, arrivals: Sequence[Arrival]) -> None:
        """Store ``arrivals`` in one transaction: all of them, or (raising) none."""
        try:
            self._write(arrivals, copy_new=True)
        except Database.CONFLICT_ERRORS:
            # Someone else stored some of these since the ledgers were read (the rule is one bridge per
            # database; this keeps every message once when it is broken): again, the tolerant way.
            log.warning("records already stored by another writer; writing the batch again")
            self._write(arrivals, copy_new=False)

    def _write(self, arrivals: Sequence[Arrival], copy_new: bool) -> None:
        rows: dict[str, list[tuple]] = {table: [] for table in COLUMNS}
        touched: set[tuple[str, int]] = set()
        changed: list[tuple[str, int]] = []
        try:
            with self.db.transaction():
                for message, received_at in arrivals:
                    self._add(message, received_at, rows, touched)
                rows["orders"] = _first_of_each_order(rows["orders"])
                changed = [key for key in touched if self._ledgers[key].gaps_changed]
                self._replace_gaps(changed, rows["gaps"])
                for table, table_rows in rows.items():
                    if table_rows:
                        self.db.insert(table, table_rows, new=copy_new and table in _LEDGER_TABLES)
        except BaseException:
            for key in touched:
                self._ledgers.pop(key, None)
            raise
        for key in changed:
            self._ledgers[key].gaps_changed = False
        self._forget_old_boots(touched)

    def _add(self, message: Message, received_at: float, rows: dict[str, list[tuple]], touched: set) -> None:
        """Append the rows ``message`` adds, if it is not stored yet."""
        if isinstance(message, Reject):
            digest = reject_digest(message.topic, message.payload)
            rows["rejects"].append((digest, message.pile, message.topic, message.payload, message.reason, received_at))
            return
        if isinstance(message, Status):
            rows["presence"].append(
                (message.pile, message.boot, message.birth_seq, message.online, message.t, received_at)
            )
            return
        key = (message.pile, message.boot)
        touched.add(key)
        if not self._ledger(key).admit(message.seq, received_at):
            return
        head = (message.pile, message.boot, message.seq)
        tail = (message.t, received_at)
        rows["records"].append((*head, message.kind, *tail))
        match message:
            case Order():
                rows["orders"].append(
                    (
                        message.pile,
                        message.order_no,
                        message.port,
                        message.method,
                        message.start,
                        message.end,
                        message.energy_wh,
                        message.charged_s,
                        message.paid_fen,
                        message.used_fen,
                        message.returned_fen,
                        message.tier,
                        message.payments,
                        message.stop_reason,
                        *head[1:],
                        *tail,
                        message.payment_ref,
                    )
                )
            case Telemetry():
                rows["telemetry"].extend((*head, *reading, *tail) for reading in message.readings)
            case Alarm():
                numbers = None if message.numbers is None else json.dumps(message.numbers)
                rows["alarms"].append(
                    (*head, message.alarm, message.port, message.detail, *tail, message.state, numbers)
                )
            case Birth():
                rows["births"].append(
                    (*head, message.firmware, message.config_version, message.ports, message.outbox, *tail)
                )
            case Meter():
                rows["meters"].append(
                    (*head, message.energy_wh, message.voltage_dv, message.current_ma, message.power_w, *tail)
                )
            case Ack():
                rows["acks"].append((*head, message.command_id, message.result, message.detail, message.data, *tail))

    def _ledger(self, key: tuple[str, int]) -> BootLedger:
        """The ledger of (pile, boot), read from the database the first time."""
        ledger = self._ledgers.get(key)
        if ledger is None:
            ((top,),) = self.db.query("SELECT max(seq) FROM records WHERE pile = ? AND boot = ?", key)
            gaps = self.db.query(
                "SELECT first_seq, last_seq, found_at FROM gaps WHERE pile = ? AND boot = ? ORDER BY first_seq", key
            )
            ledger = self._ledgers[key] = BootLedger(top or 0, [Gap(*row) for row in gaps])
        return ledger

    def _replace_gaps(self, keys: list[tuple[str, int]], gap_rows: list[tuple]) -> None:
        """Rewrite the gaps of the boots whose gaps changed (rare: only when records go missing)."""
        if keys:
            self.db.executemany("DELETE FROM gaps WHERE pile = ? AND boot = ?", keys)
        for pile, boot in keys:
            gap_rows.extend((pile, boot, gap.first, gap.last, gap.found_at) for gap in self._ledgers[pile, boot].gaps)

    def _forget_old_boots(self, touched: set[tuple[str, int]]) -> None:
        """Keep only each pile's newest boot in memory; a late message of an older one reloads it."""
        for pile, boot in touched:
            latest = self._latest_boot.get(pile)
            if latest is None or boot > latest:
                if latest is not None:
                    self._ledgers.pop((pile, latest), None)
                self._latest_boot[pile] = boot
            elif boot < latest:
                self._ledgers.pop((pile, boot), None)
