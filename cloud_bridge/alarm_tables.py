"""The alarm notifier's tables, made and migrated the way ``db.Database.create_schema`` makes the bridge's own.

- ``pile_sites`` (pile, site, label, set_at), key pile: the site (小区) a pile stands at, and how messages
  name the pile (``label``, e.g. ``3号桩``; the pile id when not given).
- ``contacts`` (id, site, alarm_class, level, name, number, added_at), key id: who is texted about a site's
  alarms of a class (``critical``, ``normal``); level 1 from the start, level 2 on escalation. A number
  is listed once per (site, class, level).
- ``open_alarms`` (id, pile, port, alarm, alarm_class, stateful, t, opened_at, raised, repeats, cleared_at,
  acknowledged_at, acknowledged_by, closed_at), key id: an alarm from its opening to its closing; one open
  (``closed_at`` NULL) per (pile, port, alarm), closed ones kept as history. ``t`` is the raise by the
  pile's clock (0 unknown), the other times the bridge's; ``raised`` counts the pile's raises while it
  was open, ``repeats`` the reminders sent.
- ``notifications`` (id, alarm_id, number, name, level, kind, status, provider, message_id, error, text,
  at), key id: every message decided about an alarm: ``kind`` open, clear, repeat, escalation; ``status``
  sent (with the provider's message id), failed (with the error; due again), capped (over the daily cap),
  pile (the pile texted that number itself).
- ``alarm_intake`` (pile, boot, seq, read_at), key (pile, boot, seq): the alarm records the notifier has
  taken in, each once.

Times are the bridge's Unix seconds, as floats, except ``t``.
"""

from __future__ import annotations

from cloud_bridge.db import Database

_TABLES = {
    "pile_sites": (("pile TEXT", "site TEXT", "label TEXT", "set_at DOUBLE PRECISION"), "pile"),
    "contacts": (
        ("id BIGINT", "site TEXT", "alarm_class TEXT", "level BIGINT", "name TEXT", "number TEXT")
        + ("added_at DOUBLE PRECISION",),
        "id",
    ),
    "open_alarms": (
        ("id BIGINT", "pile TEXT", "port BIGINT", "alarm TEXT", "alarm_class TEXT", "stateful BOOLEAN", "t BIGINT")
        + ("opened_at DOUBLE PRECISION", "raised BIGINT", "repeats BIGINT", "cleared_at DOUBLE PRECISION NULL")
        + ("acknowledged_at DOUBLE PRECISION NULL", "acknowledged_by TEXT NULL", "closed_at DOUBLE PRECISION NULL"),
        "id",
    ),
    "notifications": (
        ("id BIGINT", "alarm_id BIGINT", "number TEXT", "name TEXT", "level BIGINT", "kind TEXT", "status TEXT")
        + ("provider TEXT", "message_id TEXT NULL", "error TEXT NULL", "text TEXT", "at DOUBLE PRECISION"),
        "id",
    ),
    "alarm_intake": (("pile TEXT", "boot BIGINT", "seq BIGINT", "read_at DOUBLE PRECISION"), "pile, boot, seq"),
}
# New records by arrival; a pile's SMS reports; an alarm's history; a recipient's day (the cap).
_INDEXES = {
    "alarms_by_received_at": "alarms (received_at)",
    "alarms_by_pile_kind": "alarms (pile, alarm, received_at)",
    "notifications_by_alarm": "notifications (alarm_id)",
    "notifications_by_number": "notifications (number, at)",
}
_UNIQUE = {
    "open_alarms_one_open": "open_alarms (pile, port, alarm) WHERE closed_at IS NULL",
    "contacts_once": "contacts (site, alarm_class, level, number)",
}


def create_alarm_tables(db: Database) -> None:
    """Create the bridge's tables (alarms and presence are read here) and the notifier's, or what they lack."""
    db.create_schema()
    db.create_tables(_TABLES, _INDEXES, _UNIQUE)


def next_id(db: Database, table: str) -> int:
    """The id the next row of ``table`` gets (inside the transaction that inserts it; one notifier and
    the CLI write these tables, and a rare collision between them fails that transaction, not a row)."""
    ((top,),) = db.query("SELECT coalesce(max(id), 0) FROM %s" % table)
    return top + 1
