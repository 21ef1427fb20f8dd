"""The bridge's database: SQLite (WAL) by default, PostgreSQL when the URL names one.

Tables, created if missing (``t``, ``start_t``, ``end_t``: the pile's Unix seconds; ``received_at``,
``found_at``: the bridge's, as a float):

- ``records`` (pile, boot, seq, kind, t, received_at), key (pile, boot, seq): every numbered upstream
  record once, whatever its kind; gap detection reads it.
- ``births`` (pile, boot, seq, firmware, config_version, ports, outbox, t, received_at), key (pile, boot, seq).
- ``orders`` (pile, order_no, port, method, start_t, end_t, energy_wh, charged_s, paid_fen, used_fen,
  returned_fen, tier, payments, stop_reason, boot, seq, t, received_at, payment_ref), key (pile, order_no):
  the first delivery of an order is kept; the same order re-sent after a reboot adds only its ``records``
  row. ``payment_ref`` is "" for coin and free orders, and for orders stored before it existed.
- ``alarms`` (pile, boot, seq, alarm, port, detail, t, received_at, state, numbers), key (pile, boot, seq):
  ``state`` 1 raised, 0 cleared, NULL for a one-off event; ``numbers`` (of ``sms_sent`` reports) the
  phone numbers the pile texted, as a JSON array, else NULL.
- ``telemetry`` (pile, boot, seq, port, state, power_w, left_s, t, received_at), key (pile, boot, seq,
  port): one row per port entry.
- ``meters`` (pile, boot, seq, energy_wh, voltage_dv, current_ma, power_w, t, received_at), key (pile,
  boot, seq): the main meter's readings.
- ``acks`` (pile, boot, seq, command_id, result, detail, data, t, received_at), key (pile, boot, seq):
  every answer to a command, replays included; ``data`` is CBOR or NULL.
- ``presence`` (pile, boot, birth_seq, online, t, received_at), key (pile, boot, birth_seq, online): each
  connection's online and offline once, however often the retained status is delivered again.
- ``gaps`` (pile, boot, first_seq, last_seq, found_at), key (pile, boot, first_seq): records that did
  not arrive; shrunk, split or removed when a late one does.
- ``rejects`` (digest, pile, topic, payload, reason, received_at), key digest (of topic and payload):
  messages that could not be stored, each once.

Written by the command channel (``channel``, ``commands``, ``config_shadow``, ``pile_keys``), not by
the store:

- ``piles`` (pile, key, next_command_id, applied_version, applied_boot, applied_seq, applied_at,
  added_at), key pile: a pile's command key (64 hex digits: a secret), the id its next command gets,
  and the config version it last reported applied, with the record that reported it.
- ``commands`` (pile, id, kind, args, envelope, issued, expires, state, result, detail, data, sent,
  created_at, sent_at, settled_at, reported_at), key (pile, id): every command signed for a pile, its
  exact bytes, and what became of it (``commands`` module docstring).
- ``config_versions`` (pile, version, settings, made_at), key (pile, version): the whole desired
  setting overrides (JSON) of each config version, so the bridge knows what any reported version holds.

Columns added to a table since a database was made are added to it by ``create_schema``, with their
``DEFAULT``; ``create_tables`` does the same for the tables other modules keep (``card_tables``).

Every insert is ``INSERT ... ON CONFLICT DO NOTHING``, so a redelivered message can never add a row,
with one exception for speed: on PostgreSQL the rows of records the store knows to be new are COPYed
straight into their tables, and a conflict there (someone else wrote them) fails the transaction, which
the store then writes again the tolerant way.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import chain
from types import MappingProxyType
from urllib.parse import urlsplit

import psycopg
import psycopg.errors

DEFAULT_URL = "sqlite:///cloud_bridge.db"

# Per table: its columns, then its primary key.
_TABLES = {
    "records": (
        ("pile TEXT", "boot BIGINT", "seq BIGINT", "kind TEXT", "t BIGINT", "received_at DOUBLE PRECISION"),
        "pile, boot, seq",
    ),
    "births": (
        ("pile TEXT", "boot BIGINT", "seq BIGINT", "firmware TEXT", "config_version BIGINT", "ports BIGINT")
        + ("outbox BIGINT", "t BIGINT", "received_at DOUBLE PRECISION"),
        "pile, boot, seq",
    ),
    "orders": (
        ("pile TEXT", "order_no BIGINT", "port BIGINT", "method TEXT", "start_t BIGINT", "end_t BIGINT")
        + ("energy_wh BIGINT", "charged_s BIGINT", "paid_fen BIGINT", "used_fen BIGINT", "returned_fen BIGINT")
        + ("tier BIGINT", "payments BIGINT", "stop_reason TEXT", "boot BIGINT", "seq BIGINT", "t BIGINT")
        + ("received_at DOUBLE PRECISION", "payment_ref TEXT DEFAULT ''"),
        "pile, order_no",
    ),
    "meters": (
        ("pile TEXT", "boot BIGINT", "seq BIGINT", "energy_wh BIGINT", "voltage_dv BIGINT", "current_ma BIGINT")
        + ("power_w BIGINT", "t BIGINT", "received_at DOUBLE PRECISION"),
        "pile, boot, seq",
    ),
    "acks": (
        ("pile TEXT", "boot BIGINT", "seq BIGINT", "command_id BIGINT", "result BIGINT", "detail TEXT")
        + ("data {blob} NULL", "t BIGINT", "received_at DOUBLE PRECISION"),
        "pile, boot, seq",
    ),
    "alarms": (
        ("pile TEXT", "boot BIGINT", "seq BIGINT", "alarm TEXT", "port BIGINT", "detail TEXT", "t BIGINT")
        + ("received_at DOUBLE PRECISION", "state BIGINT NULL", "numbers TEXT NULL"),
        "pile, boot, seq",
    ),
    "telemetry": (
        ("pile TEXT", "boot BIGINT", "seq BIGINT", "port BIGINT", "state BIGINT", "power_w BIGINT", "left_s BIGINT")
        + ("t BIGINT", "received_at DOUBLE PRECISION"),
        "pile, boot, seq, port",
    ),
    "presence": (
        ("pile TEXT", "boot BIGINT", "birth_seq BIGINT", "online BOOLEAN", "t BIGINT", "received_at DOUBLE PRECISION"),
        "pile, boot, birth_seq, online",
    ),
    "gaps": (
        ("pile TEXT", "boot BIGINT", "first_seq BIGINT", "last_seq BIGINT", "found_at DOUBLE PRECISION"),
        "pile, boot, first_seq",
    ),
    "rejects": (
        ("digest TEXT", "pile TEXT NULL", "topic TEXT", "payload {blob}", "reason TEXT")
        + ("received_at DOUBLE PRECISION",),
        "digest",
    ),
    "piles": (
        ("pile TEXT", "key TEXT", "next_command_id BIGINT", "applied_version BIGINT", "applied_boot BIGINT")
        + ("applied_seq BIGINT", "applied_at DOUBLE PRECISION NULL", "added_at DOUBLE PRECISION"),
        "pile",
    ),
    "commands": (
        ("pile TEXT", "id BIGINT", "kind TEXT", "args TEXT", "envelope {blob}", "issued BIGINT", "expires BIGINT")
        + ("state TEXT", "result BIGINT NULL", "detail TEXT NULL", "data {blob} NULL", "sent BIGINT")
        + ("created_at DOUBLE PRECISION", "sent_at DOUBLE PRECISION NULL", "settled_at DOUBLE PRECISION NULL")
        + ("reported_at DOUBLE PRECISION NULL",),
        "pile, id",
    ),
    "config_versions": (
        ("pile TEXT", "version BIGINT", "settings TEXT", "made_at DOUBLE PRECISION"),
        "pile, version",
    ),
}
# Lookups besides the keys: a pile's answers to one command; the commands still waiting for an answer.
_INDEXES = {
    "acks_by_command": "acks (pile, command_id)",
    "commands_by_state": "commands (state, expires)",
}
COLUMNS = {table: tuple(column.split()[0] for column in columns) for table, (columns, _) in _TABLES.items()}


def _definitions(columns: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The (name, definition) of each column as created: NOT NULL unless it says NULL."""
    return tuple((c.split()[0], c if c.endswith(" NULL") else c + " NOT NULL") for c in columns)


# SQLite's limit on parameters in one statement (SQLITE_MAX_VARIABLE_NUMBER, since 3.32).
_SQLITE_MAX_PARAMS = 32766


def shown(url: str) -> str:
    """``url`` for a log line or an error: without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(":%s@" % parts.password, ":***@", 1)).geturl()


def default_url() -> str:
    """``DATABASE_URL`` when set, else a SQLite file in the working directory."""
    return os.environ.get("DATABASE_URL") or DEFAULT_URL


class Database:
    """One connection to SQLite (``sqlite:///path``) or PostgreSQL (``postgresql://...``).

    SQL is written once with ``?`` placeholders; for PostgreSQL they become ``%s``. One thread at a time:
    the store process owns one, readers open their own.
    """

    # Worth retrying the same transaction later: a locked SQLite file, a lost PostgreSQL connection.
    TRANSIENT_ERRORS = (sqlite3.OperationalError, psycopg.OperationalError)
    CONFLICT_ERRORS = (sqlite3.IntegrityError, psycopg.errors.UniqueViolation)
    ERRORS = (sqlite3.Error, psycopg.Error)

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            self.dialect = "sqlite"
        elif url.startswith(("postgresql://", "postgres://")):
            self.dialect = "postgresql"
        else:
            raise ValueError("database URL must be sqlite:///PATH or postgresql://...: %r" % url)
        self.url = url
        self._stages: set[str] = set()  # staging tables made on this PostgreSQL connection
        self._conn: sqlite3.Connection | psycopg.Connection = self._connect()

    def _connect(self) -> sqlite3.Connection | psycopg.Connection:
        if self.dialect == "postgresql":
            return psycopg.connect(self.url, autocommit=True)
        # isolation_level=None: transactions are begun and committed explicitly, never implicitly.
        conn = sqlite3.connect(self.url[len("sqlite:///") :], isolation_level=None, timeout=5.0)
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a batch is acknowledged to the broker after its commit, so the commit must survive a power cut.
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def reconnect(self) -> None:
        """Drop the connection (it may be broken) and open a new one."""
        self.close()
        self._stages.clear()
        self._conn = self._connect()

    def close(self) -> None:
        """Close the connection; errors from an already broken one are of no interest here."""
        try:
            self._conn.close()
        except self.ERRORS:
            pass

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    def query(self, sql: str, params: Sequence = ()) -> list[tuple]:
        """The rows of a SELECT."""
        return list(self._conn.execute(self._sql(sql), params).fetchall())

    def execute(self, sql: str, params: Sequence = ()) -> None:
        """Run one statement."""
        self._conn.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence]) -> None:
        """Run one statement for each row (psycopg pipelines them: one round trip, not one per row)."""
        cursor = self._conn.cursor()
        cursor.executemany(self._sql(sql), rows)
        cursor.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside is committed together, or rolled back if it raises."""
        if self.dialect == "postgresql":
            try:
                with self._conn.transaction():
                    yield
            except BaseException:
                self._stages.clear()  # a rollback also takes back staging tables made in the transaction
                raise
            return
        # IMMEDIATE: take the write lock now, so a busy file is waited for here and not half-way through.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    def insert(self, table: str, rows: Sequence[tuple], new: bool = False) -> None:
        """Insert ``rows`` (tuples in ``COLUMNS[table]`` order), skipping those whose key is already stored.

        Few statements whatever the number of rows, since the drivers' cost per row is what limits the
        bridge: on SQLite one multi-row INSERT; on PostgreSQL a COPY into a staging table and one INSERT
        from it. ``new``: the caller knows none of the keys is stored; PostgreSQL then takes the rows by
        COPY straight into the table, half the server's work, and raises ``CONFLICT_ERRORS`` if one is.
        """
        columns = COLUMNS[table]
        if self.dialect == "postgresql":
            target = table if new else self._stage(table)
            with self._conn.cursor().copy("COPY %s (%s) FROM STDIN" % (target, ", ".join(columns))) as copy:
                for row in rows:
                    copy.write_row(row)
            if not new:
                self._conn.execute("INSERT INTO %s SELECT * FROM %s ON CONFLICT DO NOTHING" % (table, target))
            return
        one = "(%s)" % ", ".join("?" * len(columns))
        per_statement = _SQLITE_MAX_PARAMS // len(columns)
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            sql = "INSERT INTO %s VALUES %s ON CONFLICT DO NOTHING" % (table, ", ".join([one] * len(chunk)))
            self._conn.execute(sql, list(chain.from_iterable(chunk)))

    def _stage(self, table: str) -> str:
        """The staging table of ``table`` on this connection (emptied at every commit), made if need be."""
        stage = "stage_" + table
        if stage not in self._stages:
            self._conn.execute("CREATE TEMP TABLE IF NOT EXISTS %s (LIKE %s) ON COMMIT DELETE ROWS" % (stage, table))
            self._stages.add(stage)
        return stage

    def create_schema(self) -> None:
        """Create the tables, columns and indexes that are missing."""
        self.create_tables(_TABLES, _INDEXES)

    def create_tables(
        self,
        tables: dict[str, tuple[tuple[str, ...], str]],
        indexes: Mapping[str, str],
        unique: Mapping[str, str] = MappingProxyType({}),
    ) -> None:
        """Create the ``tables`` (as ``_TABLES`` spells them), their columns and the ``indexes`` and ``unique``
        indexes (name: "table (columns)") that are missing: a table made by an older version gets its new
        columns, with their ``DEFAULT``."""
        blob = "BYTEA" if self.dialect == "postgresql" else "BLOB"
        with self.transaction():
            for table, (columns, key) in tables.items():
                definitions = _definitions(columns)
                created = [definition for _, definition in definitions] + ["PRIMARY KEY (%s)" % key]
                self.execute("CREATE TABLE IF NOT EXISTS %s (%s)" % (table, ", ".join(created).format(blob=blob)))
                present = set(self._columns(table))
                for name, definition in definitions:
                    if name not in present:  # a table made by an older bridge: the column is added last
                        self.execute("ALTER TABLE %s ADD COLUMN %s" % (table, definition.format(blob=blob)))
            for name, target in indexes.items():
                self.execute("CREATE INDEX IF NOT EXISTS %s ON %s" % (name, target))
            for name, target in unique.items():
                self.execute("CREATE UNIQUE INDEX IF NOT EXISTS %s ON %s" % (name, target))

    def _columns(self, table: str) -> list[str]:
        """The columns ``table`` has in the database."""
        if self.dialect == "postgresql":
            sql = "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            sql += " AND table_name = ?"
            return [name for (name,) in self.query(sql, (table,))]
        return [row[1] for row in self.query("PRAGMA table_info(%s)" % table)]
