"""Reading what the bridge stored, as plain dicts (one per row, keys as the columns in ``db``)."""

from __future__ import annotations

from cloud_bridge.db import COLUMNS, Database

ORDER_COLUMNS = COLUMNS["orders"]
METER_COLUMNS = COLUMNS["meters"]
GAP_COLUMNS = ("pile", "boot", "first_seq", "last_seq", "found_at")
PRESENCE_COLUMNS = ("pile", "boot", "birth_seq", "online", "t", "received_at")


def _select(db: Database, table: str, columns: tuple[str, ...], pile: str | None, order_by: str) -> list[dict]:
    where, params = (" WHERE pile = ?", (pile,)) if pile is not None else ("", ())
    rows = db.query("SELECT %s FROM %s%s ORDER BY %s" % (", ".join(columns), table, where, order_by), params)
    return [dict(zip(columns, row, strict=True)) for row in rows]


def orders(db: Database, pile: str | None = None) -> list[dict]:
    """Orders, of one pile or all, by pile and order number."""
    return _select(db, "orders", ORDER_COLUMNS, pile, "pile, order_no")


def gaps(db: Database, pile: str | None = None) -> list[dict]:
    """Records missing, of one pile or all, as (boot, first_seq..last_seq) ranges."""
    return _select(db, "gaps", GAP_COLUMNS, pile, "pile, boot, first_seq")


def presence(db: Database, pile: str) -> list[dict]:
    """A pile's online/offline history: each connection (boot, birth seq) online, then offline."""
    rows = _select(db, "presence", PRESENCE_COLUMNS, pile, "boot, birth_seq, online DESC")
    for row in rows:
        row["online"] = bool(row["online"])  # SQLite keeps a boolean as 0/1
    return rows


def meters(db: Database, pile: str, limit: int = 20) -> list[dict]:
    """A pile's latest main meter readings, newest first."""
    rows = db.query(
        "SELECT %s FROM meters WHERE pile = ? ORDER BY boot DESC, seq DESC LIMIT ?" % ", ".join(METER_COLUMNS),
        (pile, limit),
    )
    return [dict(zip(METER_COLUMNS, row, strict=True)) for row in rows]
