"""A port as its QR page shows it: from the latest telemetry the bridge stored and the pile's online status.

The pile sends every port's state after each connect and each change since (docs/cloud-protocol.md,
"telemetry"), so the newest telemetry row of a port is its state; the newest presence row of the
pile says whether it is online. Its port count is in its latest birth.
"""

from __future__ import annotations

from dataclasses import dataclass

from cloud_bridge.db import Database

# Port states (firmware/port.py); a session holds the port in QUEUED, WAIT_PLUG and CHARGING.
STATE_NAMES = ("idle", "queued", "wait_plug", "charging", "stopped")
BUSY_STATES = (1, 2, 3)


@dataclass(frozen=True)
class PortView:
    """What the page says about a port. ``state`` is a name of ``STATE_NAMES``, or "unknown" before any
    telemetry; ``payable``: the page may offer amounts; ``why_not``: "offline", "busy" or "unknown"."""

    pile: str
    port: int
    online: bool
    state: str
    power_w: int
    left_s: int

    @property
    def why_not(self) -> str:
        if not self.online:
            return "offline"
        if self.state == "unknown":
            return "unknown"
        return "busy" if STATE_NAMES.index(self.state) in BUSY_STATES else ""

    @property
    def payable(self) -> bool:
        return not self.why_not


def port_count(db: Database, pile: str) -> int | None:
    """The pile's port count from its latest birth; None for a pile the bridge never heard from."""
    rows = db.query("SELECT ports FROM births WHERE pile = ? ORDER BY boot DESC, seq DESC LIMIT 1", (pile,))
    return rows[0][0] if rows else None


def online(db: Database, pile: str) -> bool:
    """Whether the pile's latest connection is up (its offline, the will, sorts before its online)."""
    rows = db.query(
        "SELECT online FROM presence WHERE pile = ? ORDER BY boot DESC, birth_seq DESC, online ASC LIMIT 1", (pile,)
    )
    return bool(rows and rows[0][0])


def port_view(db: Database, pile: str, port: int) -> PortView | None:
    """The port's view; None when the pile is unknown or has no such port."""
    ports = port_count(db, pile)
    if ports is None or not 1 <= port <= ports:
        return None
    rows = db.query(
        "SELECT state, power_w, left_s FROM telemetry WHERE pile = ? AND port = ? ORDER BY boot DESC, seq DESC LIMIT 1",
        (pile, port),
    )
    if not rows or not 0 <= rows[0][0] < len(STATE_NAMES):
        return PortView(pile, port, online(db, pile), "unknown", 0, -1)
    state, power_w, left_s = rows[0]
    return PortView(pile, port, online(db, pile), STATE_NAMES[state], power_w, left_s)


def known_piles(db: Database) -> dict[str, int]:
    """Every pile the bridge heard a birth from, with its port count (from its latest birth)."""
    rows = db.query("SELECT pile, ports FROM births ORDER BY pile, boot, seq")
    return dict(rows)
