"""The notifier's records in the database: the alarm records not yet taken in, the open alarms, and the
messages decided about each (docs/alarms.md). Plain reads and writes; the decisions are in
``alarm_intake`` and ``alarm_policy``."""

from __future__ import annotations

import json

from cloud_bridge.alarm_intake import AGAIN, CLEAR, OPEN, REOPEN, Event, OpenAlarm
from cloud_bridge.alarm_kinds import SMS_SENT
from cloud_bridge.alarm_policy import REPEAT, SENT, Contact, Due, Sent, canonical
from cloud_bridge.alarm_tables import next_id
from cloud_bridge.db import Database

RECORD_COLUMNS = ("pile", "boot", "seq", "alarm", "port", "t", "received_at", "state")
_ALARM_COLUMNS = "id, pile, port, alarm, alarm_class, stateful, t, opened_at, raised, cleared_at, acknowledged_at"
LIST_COLUMNS = (
    "id pile port alarm alarm_class stateful t opened_at raised repeats cleared_at acknowledged_at"
    " acknowledged_by closed_at"
).split()
NOTIFICATION_COLUMNS = "id alarm_id number name level kind status provider message_id error text at".split()


def unread_records(db: Database, now: float, backlog_s: float) -> list[dict]:
    """The alarm records received in the last ``backlog_s`` and not yet taken in, each pile's in order."""
    rows = db.query(
        "SELECT %s FROM alarms a WHERE received_at >= ? AND NOT EXISTS"
        " (SELECT 1 FROM alarm_intake i WHERE i.pile = a.pile AND i.boot = a.boot AND i.seq = a.seq)"
        " ORDER BY pile, boot, seq" % ", ".join("a." + column for column in RECORD_COLUMNS),
        (now - backlog_s,),
    )
    return [dict(zip(RECORD_COLUMNS, row, strict=True)) for row in rows]


def mark_read(db: Database, record: dict, now: float) -> None:
    """Note that ``record`` has been taken in (inside the transaction that acted on it)."""
    db.execute(
        "INSERT INTO alarm_intake VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (record["pile"], record["boot"], record["seq"], now),
    )


def _alarm(row: tuple) -> OpenAlarm:
    alarm_id, pile, port, alarm, klass, stateful, t, opened_at, raised, cleared_at, acknowledged_at = row
    return OpenAlarm(
        alarm_id, pile, port, alarm, klass, bool(stateful), t, opened_at, raised, cleared_at, acknowledged_at
    )


def current(db: Database, pile: str, port: int, alarm: str) -> OpenAlarm | None:
    """The open alarm of (pile, port, alarm), if there is one."""
    rows = db.query(
        "SELECT %s FROM open_alarms WHERE pile = ? AND port = ? AND alarm = ? AND closed_at IS NULL" % _ALARM_COLUMNS,
        (pile, port, alarm),
    )
    return _alarm(rows[0]) if rows else None


def open_alarms(db: Database) -> list[OpenAlarm]:
    """Every alarm not closed, oldest first."""
    return [
        _alarm(row)
        for row in db.query("SELECT %s FROM open_alarms WHERE closed_at IS NULL ORDER BY id" % _ALARM_COLUMNS)
    ]


def apply(db: Database, change: str, event: Event, alarm: OpenAlarm | None, alarm_class: str) -> None:
    """Write what ``alarm_intake.intake`` decided ``event`` does to ``alarm`` (in a transaction)."""
    if change == OPEN:
        db.execute(
            "INSERT INTO open_alarms VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, 0, NULL, NULL, NULL, NULL)",
            (next_id(db, "open_alarms"), event.pile, event.port, event.alarm, alarm_class)
            + (event.state is not None, event.t, event.at),
        )
    elif alarm is None:
        return
    elif change in (AGAIN, REOPEN):
        db.execute("UPDATE open_alarms SET raised = raised + 1, cleared_at = NULL WHERE id = ?", (alarm.id,))
    elif change == CLEAR:
        db.execute("UPDATE open_alarms SET cleared_at = ? WHERE id = ?", (event.at, alarm.id))


def close(db: Database, alarm_id: int, now: float) -> None:
    """Close an alarm: nothing more is due about it."""
    db.execute("UPDATE open_alarms SET closed_at = ? WHERE id = ? AND closed_at IS NULL", (now, alarm_id))


def acknowledge(db: Database, alarm_id: int, by: str, now: float) -> None:
    """Acknowledge an open alarm: no more repeats or escalation. ``LookupError`` if it is not open."""
    with db.transaction():
        rows = db.query("SELECT acknowledged_at FROM open_alarms WHERE id = ? AND closed_at IS NULL", (alarm_id,))
        if not rows:
            raise LookupError("no open alarm %d" % alarm_id)
        if rows[0][0] is None:
            db.execute(
                "UPDATE open_alarms SET acknowledged_at = ?, acknowledged_by = ? WHERE id = ?", (now, by, alarm_id)
            )


def history(db: Database, alarm_id: int) -> list[Sent]:
    """The messages decided about an alarm so far."""
    rows = db.query("SELECT name, number, level, kind, status, at FROM notifications WHERE alarm_id = ?", (alarm_id,))
    return [Sent(Contact(name, number, level), kind, status, at) for name, number, level, kind, status, at in rows]


def covered(db: Database, alarm: OpenAlarm, grace_s: float) -> frozenset[str]:
    """The numbers (``canonical``) the pile reported texting ``alarm`` to: its ``sms_sent`` records for the
    same type and port, from ``grace_s`` before the alarm opened on (the report may come first)."""
    rows = db.query(
        "SELECT numbers FROM alarms WHERE pile = ? AND alarm = ? AND received_at >= ? AND port = ? AND detail = ?",
        (alarm.pile, SMS_SENT, alarm.opened_at - grace_s, alarm.port, alarm.alarm),
    )
    return frozenset(canonical(number) for (numbers,) in rows if numbers for number in json.loads(numbers))


def sent_since(db: Database, since: float) -> dict[str, int]:
    """Messages sent to each number since ``since`` (the daily cap's count)."""
    rows = db.query(
        "SELECT number, count(*) FROM notifications WHERE status = ? AND at >= ? GROUP BY number", (SENT, since)
    )
    return {number: count for number, count in rows}


def suppressed(db: Database, number: str) -> int:
    """Messages to ``number`` the cap held back since the last one sent to it."""
    ((count,),) = db.query(
        "SELECT count(*) FROM notifications WHERE number = ? AND status = 'capped' AND id >"
        " (SELECT coalesce(max(id), 0) FROM notifications WHERE number = ? AND status = ?)",
        (number, number, SENT),
    )
    return count


def record(
    db: Database, alarm_id: int, due: Due, status: str, provider: str, text: str, now: float, outcome: str | None = None
) -> None:
    """Record a message decided about an alarm: ``outcome`` is the provider's message id when ``status`` is
    sent, the error when failed."""
    message_id, error = (outcome, None) if status == SENT else (None, outcome)
    with db.transaction():
        db.execute(
            "INSERT INTO notifications VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (next_id(db, "notifications"), alarm_id, due.contact.number, due.contact.name, due.contact.level)
            + (due.kind, status, provider, message_id, error, text, now),
        )
        if due.kind == REPEAT and status == SENT:
            db.execute("UPDATE open_alarms SET repeats = repeats + 1 WHERE id = ?", (alarm_id,))


def listing(db: Database, everything: bool = False, limit: int = 100) -> list[dict]:
    """Open alarms (or all, newest first) as dicts."""
    where = "" if everything else " WHERE closed_at IS NULL"
    rows = db.query(
        "SELECT %s FROM open_alarms%s ORDER BY id DESC LIMIT ?" % (", ".join(LIST_COLUMNS), where), (limit,)
    )
    return [dict(zip(LIST_COLUMNS, row, strict=True), stateful=bool(row[5])) for row in rows]


def notifications(db: Database, alarm_id: int | None = None, limit: int = 100) -> list[dict]:
    """Messages decided, of one alarm or all, newest first."""
    where, params = (" WHERE alarm_id = ?", (alarm_id, limit)) if alarm_id is not None else ("", (limit,))
    rows = db.query(
        "SELECT %s FROM notifications%s ORDER BY id DESC LIMIT ?" % (", ".join(NOTIFICATION_COLUMNS), where), params
    )
    return [dict(zip(NOTIFICATION_COLUMNS, row, strict=True)) for row in rows]


def latest_presence(db: Database) -> list[tuple[str, bool, float]]:
    """Each pile's latest presence: (pile, online, since when by the bridge's clock)."""
    rows = db.query(
        "SELECT pile, online, received_at FROM (SELECT pile, online, received_at, row_number() OVER"
        " (PARTITION BY pile ORDER BY boot DESC, birth_seq DESC, online ASC) AS n FROM presence) AS latest"
        " WHERE n = 1"
    )
    return [(pile, bool(online), received_at) for pile, online, received_at in rows]
