"""The command ledger (table ``commands``): each command signed for a pile, its bytes, and its fate.

A command is made (``create``) with the pile's next id, signed, and committed as ``pending`` before it
is ever published, so every id that reaches a pile is on record. Its envelope is kept: every sending of
it is the same bytes. It leaves ``pending`` once, by the first of:

- the pile's answer (the first ``acks`` row naming it): result 0 ``done``, 2 ``expired`` (it arrived
  after its expiry), any other ``refused``;
- ``expires`` passing by more than the grace with no answer: ``expired``, detail ``never acked``.

An answer to a command that had already expired unanswered is kept (result, detail, data) while the
state stays ``expired``: the state is what was reported, and that answer is an anomaly to look into.
``reported_at`` is set once the outcome has been handed to the channel's callbacks, so a bridge that
stopped in between hands it over at its next start.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import cbor2

from cloud_bridge import pile_keys, signing
from cloud_bridge.card_uid import is_uid_hex
from cloud_bridge.db import Database

PENDING, DONE, REFUSED, EXPIRED = "pending", "done", "refused", "expired"
RESULT_DONE, RESULT_EXPIRED = 0, 2
RESULT_NAMES = ("done", "forged", "expired", "malformed", "stale", "refused", "bad_config", "unknown")
NEVER_ACKED = "never acked"
MAX_REFERENCE_CHARS = 32
# The most entries of each list of one ``cards`` command (block, unblock, settled): what the pile takes in one.
CARDS_PER_COMMAND = 32


def _uint(value: Any) -> bool:
    return type(value) is int and value >= 0


def _positive(value: Any) -> bool:
    return type(value) is int and value >= 1


def _reference(value: Any) -> bool:
    return type(value) is str and 1 <= len(value) <= MAX_REFERENCE_CHARS


def _settings(value: Any) -> bool:
    return type(value) is dict and all(type(name) is str for name in value)


def _uids(value: Any) -> bool:
    """A list of distinct card UIDs (lower-case hex), at most ``CARDS_PER_COMMAND``."""
    if type(value) is not list or len(value) > CARDS_PER_COMMAND:
        return False
    return all(type(uid) is str and is_uid_hex(uid) for uid in value) and len(set(value)) == len(value)


def _settled(value: Any) -> bool:
    """A list of distinct ``[card UID, order no]`` pairs (the walk-away refunds the desk paid onto cards),
    at most ``CARDS_PER_COMMAND``."""
    if type(value) is not list or len(value) > CARDS_PER_COMMAND:
        return False
    pairs = [tuple(pair) for pair in value if type(pair) is list and len(pair) == 2]
    well_formed = all(type(uid) is str and is_uid_hex(uid) and _positive(order_no) for uid, order_no in pairs)
    return well_formed and len(pairs) == len(value) and len(set(pairs)) == len(pairs)


# Per kind: its arguments by name, in key order (4, 5, ...), with their check.
KINDS: dict[str, tuple[tuple[str, Any], ...]] = {
    "start": (("port", _uint), ("credit", _positive), ("reference", _reference)),
    "stop": (("port", _uint),),
    "config": (("version", _positive), ("settings", _settings)),
    "query": (),
    "reboot": (),
    "time": (),
    "cards": (("block", _uids), ("unblock", _uids), ("settled", _settled)),
    # a manager clears what the pile latched: port 0 smoke and every port's fault, else that port's fault
    "clear": (("port", _uint),),
}

_COLUMNS = "pile, id, kind, args, issued, expires, state, result, detail, data, sent, created_at, sent_at, settled_at"


@dataclass(slots=True)
class Command:
    """One command and what became of it; ``data`` is the pile's answer data, decoded (None if none)."""

    pile: str
    id: int
    kind: str
    args: dict
    issued: int
    expires: int
    state: str
    result: int | None
    detail: str | None
    data: Any
    sent: int
    created_at: float
    sent_at: float | None
    settled_at: float | None

    @property
    def result_name(self) -> str | None:
        """The name of the pile's result code (docs/cloud-protocol.md), or None without an answer."""
        if self.result is None:
            return None
        return RESULT_NAMES[self.result] if self.result < len(RESULT_NAMES) else "code %d" % self.result


def _command(row: tuple) -> Command:
    fields = list(row)
    fields[3] = json.loads(fields[3])
    fields[9] = None if fields[9] is None else cbor2.loads(bytes(fields[9]))
    return Command(*fields)


def check_arguments(kind: str, args: dict) -> tuple:
    """``args`` as the tuple of values in key order; ``ValueError`` saying what is wrong."""
    if kind not in KINDS:
        raise ValueError("unknown command kind %r (one of %s)" % (kind, ", ".join(KINDS)))
    names = [name for name, _ in KINDS[kind]]
    if set(args) != set(names):
        raise ValueError("%s takes %s, got %s" % (kind, names or "no arguments", sorted(args)))
    for name, valid in KINDS[kind]:
        if not valid(args[name]):
            raise ValueError("%s: invalid %s %r" % (kind, name, args[name]))
    return tuple(args[name] for name in names)


def create(
    db: Database, pile: str, kind: str, args: dict, ttl_s: int, now: float | None = None
) -> tuple[Command, bytes]:
    """Make, sign and commit a ``pending`` command for ``pile``; returns it and its envelope. Raises
    ``pile_keys.UnknownPile`` or ``ValueError`` (bad arguments)."""
    with db.transaction():
        return add(db, pile, kind, args, ttl_s, now)


def add(db: Database, pile: str, kind: str, args: dict, ttl_s: int, now: float | None = None) -> tuple[Command, bytes]:
    """``create`` within the caller's transaction, so the command is committed with what the caller writes
    beside it, or not at all."""
    values = check_arguments(kind, args)
    if type(ttl_s) is not int or ttl_s < 1:
        raise ValueError("ttl_s must be a whole number of seconds, at least 1")
    now = time.time() if now is None else now
    issued = int(now)
    key = pile_keys.key(db, pile)
    # The row lock (PostgreSQL) or the write lock (SQLite) makes concurrent senders take turns.
    db.execute("UPDATE piles SET next_command_id = next_command_id + 1 WHERE pile = ?", (pile,))
    ((command_id,),) = db.query("SELECT next_command_id - 1 FROM piles WHERE pile = ?", (pile,))
    body = signing.body(command_id, kind, issued + ttl_s, issued, values)
    row = (pile, command_id, kind, json.dumps(args), signing.envelope(key, pile, body), issued, issued + ttl_s)
    db.insert("commands", [(*row, PENDING, None, None, None, 0, now, None, None, None)])
    command = Command(
        pile, command_id, kind, args, issued, issued + ttl_s, PENDING, None, None, None, 0, now, None, None
    )
    return command, row[4]


def get(db: Database, pile: str, command_id: int) -> Command | None:
    """One command, or None."""
    rows = db.query("SELECT %s FROM commands WHERE pile = ? AND id = ?" % _COLUMNS, (pile, command_id))
    return _command(rows[0]) if rows else None


def of_pile(db: Database, pile: str, limit: int = 50) -> list[Command]:
    """A pile's latest commands, newest first."""
    rows = db.query("SELECT %s FROM commands WHERE pile = ? ORDER BY id DESC LIMIT ?" % _COLUMNS, (pile, limit))
    return [_command(row) for row in rows]


def envelopes(db: Database, pile: str | None, now: float, unsent_only: bool) -> list[tuple[str, int, bytes]]:
    """(pile, id, envelope) of the pending commands not yet expired: all of ``pile``'s, or every pile's
    that was never sent; in id order."""
    where = "state = ? AND expires > ?" + (" AND sent = 0" if unsent_only else "")
    params: list = [PENDING, int(now)]
    if pile is not None:
        where += " AND pile = ?"
        params.append(pile)
    rows = db.query("SELECT pile, id, envelope FROM commands WHERE %s ORDER BY pile, id" % where, params)
    return [(pile_id, command_id, bytes(envelope)) for pile_id, command_id, envelope in rows]


def mark_sent(db: Database, pile: str, command_id: int, now: float) -> None:
    """Count one more sending of the command."""
    with db.transaction():
        db.execute(
            "UPDATE commands SET sent = sent + 1, sent_at = ? WHERE pile = ? AND id = ?", (now, pile, command_id)
        )


def answered_pending(db: Database) -> list[tuple[str, int]]:
    """(pile, id) of the pending commands with an answer stored (one the bridge has not acted on yet)."""
    return db.query(
        "SELECT pile, id FROM commands c WHERE state = ? AND EXISTS"
        " (SELECT 1 FROM acks a WHERE a.pile = c.pile AND a.command_id = c.id)",
        (PENDING,),
    )


def state_of_result(result: int) -> str:
    """The state a pile's result code puts a command in."""
    return DONE if result == RESULT_DONE else EXPIRED if result == RESULT_EXPIRED else REFUSED


def settle(db: Database, pile: str, command_id: int, now: float) -> tuple[str, Command | None]:
    """Apply the pile's first answer to the command; returns what it was and the command after it:
    ``("settled", c)`` (its outcome is due), ``("late", c)`` (it had expired unanswered), ``("again",
    c)`` (already answered: a replay), ``("unknown", None)`` (no such command, or no answer)."""
    with db.transaction():
        answer = db.query(
            "SELECT result, detail, data FROM acks WHERE pile = ? AND command_id = ? ORDER BY boot, seq LIMIT 1",
            (pile, command_id),
        )
        command = get(db, pile, command_id)
        if command is None or not answer:
            return "unknown", None
        if command.result is not None:
            return "again", command
        result, detail, data = answer[0]
        state = state_of_result(result) if command.state == PENDING else command.state
        db.execute(
            "UPDATE commands SET state = ?, result = ?, detail = ?, data = ?, settled_at = ? WHERE pile = ? AND id = ?",
            (state, result, detail, data, now, pile, command_id),
        )
    what = "settled" if command.state == PENDING else "late"
    return what, get(db, pile, command_id)


def expire_overdue(db: Database, now: float, grace_s: float) -> list[Command]:
    """Mark ``expired`` the pending commands whose expiry passed more than ``grace_s`` ago; returns them."""
    with db.transaction():
        rows = db.query(
            "SELECT %s FROM commands WHERE state = ? AND expires < ? ORDER BY pile, id" % _COLUMNS,
            (PENDING, now - grace_s),
        )
        overdue = [_command(row) for row in rows]
        db.executemany(
            "UPDATE commands SET state = ?, detail = ?, settled_at = ? WHERE pile = ? AND id = ? AND state = ?",
            [(EXPIRED, NEVER_ACKED, now, c.pile, c.id, PENDING) for c in overdue],
        )
    for command in overdue:
        command.state, command.detail, command.settled_at = EXPIRED, NEVER_ACKED, now
    return overdue


def unreported(db: Database) -> list[Command]:
    """Commands out of ``pending`` whose outcome was never handed to the callbacks."""
    rows = db.query(
        "SELECT %s FROM commands WHERE state <> ? AND reported_at IS NULL ORDER BY pile, id" % _COLUMNS, (PENDING,)
    )
    return [_command(row) for row in rows]


def mark_reported(db: Database, pile: str, command_id: int, now: float) -> None:
    """The outcome of the command has been handed over."""
    with db.transaction():
        db.execute("UPDATE commands SET reported_at = ? WHERE pile = ? AND id = ?", (now, pile, command_id))
