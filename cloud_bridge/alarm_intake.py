"""Pure: what an alarm record (or a pile's presence) does to the open alarm of its (pile, port, type).

No clock, no I/O: the notifier passes the records and the time in, and applies the ``Change`` returned.
"""

from __future__ import annotations

from dataclasses import dataclass

from cloud_bridge.alarm_kinds import LEGACY_CLEARS, OFFLINE, SMS_SENT
from cloud_bridge.alarm_settings import NotifierSettings

RAISED, CLEARED = 1, 0
# What an event does to the open alarm of its (pile, port, type).
OPEN, AGAIN, REOPEN, CLEAR, NOTHING = "open", "again", "reopen", "clear", "nothing"


@dataclass(frozen=True)
class Event:
    """A raise (``state`` 1), a clear (0) or a one-off event (None) of an alarm type, ``t`` by the pile's
    clock (0 unknown), ``at`` by the bridge's."""

    pile: str
    port: int
    alarm: str
    state: int | None
    t: int
    at: float


@dataclass(frozen=True)
class OpenAlarm:
    """An alarm from its opening to its closing. ``stateful``: opened by a raise, so a clear ends it; a
    one-off event's alarm ends when it is acknowledged. ``raised``: how often the pile raised it while
    it was open (flaps included)."""

    id: int
    pile: str
    port: int
    alarm: str
    klass: str
    stateful: bool
    t: int
    opened_at: float
    raised: int = 1
    cleared_at: float | None = None
    acknowledged_at: float | None = None


def event_of(pile: str, alarm: str, port: int, state: int | None, t: int, at: float) -> Event | None:
    """The event an alarm record stands for; None for the pile's ``sms_sent`` reports. A firmware before
    key 6 sends ``meter_back`` for the clear of ``meter_lost`` and no state on either."""
    if alarm == SMS_SENT:
        return None
    if state is None and alarm in LEGACY_CLEARS:
        return Event(pile, port, LEGACY_CLEARS[alarm], CLEARED, t, at)
    if state is None and alarm in LEGACY_CLEARS.values():
        state = RAISED
    return Event(pile, port, alarm, state, t, at)


def intake(current: OpenAlarm | None, event: Event) -> str:
    """What ``event`` does to ``current``, the open alarm of its (pile, port, type) if there is one:

    - ``open`` a new alarm; ``again``: raised while open, counted, nothing sent;
    - ``reopen``: raised while cleared but not yet closed (within ``flap_hold_s``): the same alarm goes
      on as if it had never cleared, and its clear is not sent;
    - ``clear``; ``nothing`` (a clear of what is not open, or cleared already).
    """
    if event.state == CLEARED:
        return CLEAR if current is not None and current.cleared_at is None else NOTHING
    if current is None:
        return OPEN
    return REOPEN if current.cleared_at is not None else AGAIN


def offline_event(
    pile: str, online: bool, since: float, current: OpenAlarm | None, now: float, settings: NotifierSettings
) -> Event | None:
    """The ``offline`` event a pile's latest presence (``online`` since ``since``, the bridge's time) calls
    for, given its open ``offline`` alarm ``current``: a raise once it has been offline for
    ``offline_after_s``, a clear once it is back."""
    if online:
        if current is not None and current.cleared_at is None:
            return Event(pile, 0, OFFLINE, CLEARED, int(since), since)
        return None
    if (current is None or current.cleared_at is not None) and now - since >= settings.offline_after_s:
        return Event(pile, 0, OFFLINE, RAISED, int(since), now)
    return None
