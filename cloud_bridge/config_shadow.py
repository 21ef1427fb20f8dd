"""The config shadow: each pile's desired configuration, by version, and the version it has applied.

Desired state is a map of setting overrides (firmware/config.py names) with a version; every version's
whole map is kept (``config_versions``), so for any version a pile reports the bridge knows what it
holds. A pile reports the version it applied in its birth (key 4) and in a ``config`` command's answer
(data); the report of the newest record (boot, seq) wins (``piles.applied_*``).

The ``config`` command sent to bring a pile from applied version A to desired version D carries only
the settings of D that A does not have with the same value. A pile at version 0 (or at a version the
bridge never made) runs on its site file and the field defaults, which the bridge does not know: it gets
every desired setting. A setting is never taken out of the desired map: set it to its default instead.
"""

from __future__ import annotations

import json
import logging

from cloud_bridge import commands
from cloud_bridge.db import Database

log = logging.getLogger(__name__)

CONFIG_TTL_S = 3600
BAD_CONFIG = 6


def desired(db: Database, pile: str) -> tuple[int, dict]:
    """The desired (version, settings) of ``pile``; (0, {}) when none was ever set."""
    rows = db.query(
        "SELECT version, settings FROM config_versions WHERE pile = ? ORDER BY version DESC LIMIT 1", (pile,)
    )
    return (rows[0][0], json.loads(rows[0][1])) if rows else (0, {})


def applied(db: Database, pile: str) -> int:
    """The config version ``pile`` last reported applied (0 before any report)."""
    rows = db.query("SELECT applied_version FROM piles WHERE pile = ?", (pile,))
    return rows[0][0] if rows else 0


def _settings_at(db: Database, pile: str, version: int) -> dict | None:
    rows = db.query("SELECT settings FROM config_versions WHERE pile = ? AND version = ?", (pile, version))
    return json.loads(rows[0][0]) if rows else None


def difference(db: Database, pile: str) -> tuple[int, dict] | None:
    """(desired version, the settings to send) to bring ``pile`` from its applied version to the desired
    one; None when it is there (or beyond)."""
    version, wanted = desired(db, pile)
    have = applied(db, pile)
    if version <= have:
        return None
    known = _settings_at(db, pile, have) if have else None
    if known is None:
        return version, wanted
    return version, {name: value for name, value in wanted.items() if name not in known or known[name] != value}


def set_desired(db: Database, pile: str, changes: dict, now: float) -> int:
    """Merge ``changes`` into ``pile``'s desired settings as a new version; returns it. The version is
    above both the last desired and the applied one, as the pile requires."""
    if not changes or not all(type(name) is str for name in changes):
        raise ValueError("settings: a non-empty map of setting names to values")
    with db.transaction():
        version, settings = desired(db, pile)
        version = max(version, applied(db, pile)) + 1
        db.insert("config_versions", [(pile, version, json.dumps({**settings, **changes}, sort_keys=True), now)])
    return version


def report_applied(db: Database, pile: str, version: int, boot: int, seq: int, now: float) -> bool:
    """Take ``pile``'s report (from record ``boot``, ``seq``) that it runs ``version``; False if a newer
    record reported already or the pile is unknown."""
    with db.transaction():
        rows = db.query("SELECT applied_boot, applied_seq FROM piles WHERE pile = ?", (pile,))
        if not rows or tuple(rows[0]) >= (boot, seq):
            return False
        db.execute(
            "UPDATE piles SET applied_version = ?, applied_boot = ?, applied_seq = ?, applied_at = ? WHERE pile = ?",
            (version, boot, seq, now, pile),
        )
    return True


def report_from_ack(db: Database, command: commands.Command, now: float) -> bool:
    """Take a done ``config`` command's answer (data: the applied version) as a report."""
    if command.kind != "config" or command.state != commands.DONE or type(command.data) is not int:
        return False
    ((boot, seq),) = db.query(
        "SELECT boot, seq FROM acks WHERE pile = ? AND command_id = ? ORDER BY boot, seq LIMIT 1",
        (command.pile, command.id),
    )
    return report_applied(db, command.pile, command.data, boot, seq, now)


def catch_up(db: Database, pile: str, now: float, ttl_s: int = CONFIG_TTL_S) -> tuple[commands.Command, bytes] | None:
    """Make the ``config`` command that brings ``pile`` to its desired version, unless it is there, a
    command for that version is still pending, or the pile refused that version as ``bad_config`` (it
    would only refuse it again: a new ``set`` is needed). Returns it and its envelope, or None."""
    wanted = difference(db, pile)
    if wanted is None:
        return None
    version, settings = wanted
    for command in commands.of_pile(db, pile, limit=20):
        if command.kind != "config" or command.args["version"] != version:
            continue
        if command.state == commands.PENDING and command.expires > now:
            return None
        if command.result == BAD_CONFIG:
            log.warning("pile %s refused config version %d (%s): not sent again", pile, version, command.detail)
            return None
    return commands.create(db, pile, "config", {"version": version, "settings": settings}, ttl_s, now)
