"""Pure: which messages an open alarm is due, and which of them the daily cap lets through.

No clock, no I/O: the notifier passes in the alarm, its site's contacts for the alarm's class, what was
already sent about it, the numbers the pile texted itself and the time, and sends what comes back.
What is due follows from the history alone, so a message that failed is simply due again next round.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cloud_bridge.alarm_intake import OpenAlarm
from cloud_bridge.alarm_kinds import CRITICAL
from cloud_bridge.alarm_settings import MINUTES_PER_DAY, NotifierSettings, minute_of_day

# Kinds of message.
OPEN, CLEAR, REPEAT, ESCALATION = "open", "clear", "repeat", "escalation"
# What became of one: sent by the provider; failed (due again); capped (over the daily cap, counted in the
# recipient's next message); pile (the pile texted this number itself, so the bridge did not).
SENT, FAILED, CAPPED, PILE = "sent", "failed", "capped", "pile"
_DONE = (SENT, CAPPED, PILE)  # not due again
_REACHED = (SENT, PILE)  # the recipient knows of the alarm, so is owed its clear


@dataclass(frozen=True)
class Contact:
    """Someone to text: level 1 from the start, level 2 on escalation."""

    name: str
    number: str
    level: int


@dataclass(frozen=True)
class Sent:
    """A message of the alarm's history (a notification row)."""

    contact: Contact
    kind: str
    status: str
    at: float


@dataclass(frozen=True)
class Due:
    """A message due now; ``by_pile``: the pile texted this number already, to be recorded, not sent."""

    contact: Contact
    kind: str
    by_pile: bool = False


@dataclass(frozen=True)
class Plan:
    """The messages due, and whether the alarm is over (closed: nothing more will ever be due)."""

    messages: tuple[Due, ...]
    close: bool = False


def canonical(number: str) -> str:
    """A phone number as compared: without spaces, dashes and China's country code."""
    number = "".join(ch for ch in number if ch.isdigit() or ch == "+")
    for prefix in ("+86", "0086"):
        if number.startswith(prefix):
            return number[len(prefix) :]
    return number


def local_minute(at: float, settings: NotifierSettings) -> int:
    """Minutes after local midnight at ``at`` (Unix seconds)."""
    return int((at + settings.utc_offset_min * 60) // 60) % MINUTES_PER_DAY


def local_day(at: float, settings: NotifierSettings) -> int:
    """The local day ``at`` falls in, as days since 1970-01-01: the daily cap's period."""
    return int((at + settings.utc_offset_min * 60) // 86400)


def quiet(at: float, settings: NotifierSettings) -> bool:
    """Whether ``at`` falls in quiet hours (the window may span midnight; start equal to end: none)."""
    start, end, minute = (
        minute_of_day(settings.quiet_start),
        minute_of_day(settings.quiet_end),
        local_minute(at, settings),
    )
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end


def plan(
    alarm: OpenAlarm,
    contacts: Sequence[Contact],
    history: Iterable[Sent],
    covered: frozenset[str],
    now: float,
    settings: NotifierSettings,
) -> Plan:
    """The messages ``alarm`` is due at ``now``.

    ``contacts``: its site's contacts for its class; ``history``: its messages so far; ``covered``: the
    numbers (``canonical``) the pile reported texting this alarm to. The rules, in order:

    - a cleared alarm waits ``flap_hold_s`` (it may be raised again: then nothing is sent), then owes its
      clear to everyone who knew of it, then closes; an acknowledged one-off event closes;
    - a ``normal`` alarm's messages wait while it is quiet hours, clears included;
    - the open goes to the level-1 contacts; for the types the pile texts itself, a number the pile
      reported is recorded as told by the pile, and the rest wait ``pile_sms_grace_s`` for its reports;
    - unacknowledged: the level-2 contacts not told yet get an escalation ``escalate_after_s`` after the
      opening, and everyone told gets a repeat ``repeat_s`` after their last message;
    - a message the provider failed is due again ``retry_s`` after the failure.
    """
    history = tuple(history)
    chosen = _plan(alarm, contacts, history, covered, now, settings)
    failed_at: dict[tuple[str, str], float] = {}
    for sent in history:
        if sent.status == FAILED:
            key = (canonical(sent.contact.number), sent.kind)
            failed_at[key] = max(failed_at.get(key, sent.at), sent.at)
    retry = tuple(
        due
        for due in chosen.messages
        if now >= failed_at.get((canonical(due.contact.number), due.kind), -settings.retry_s) + settings.retry_s
    )
    return Plan(retry, chosen.close)


def _plan(
    alarm: OpenAlarm,
    contacts: Sequence[Contact],
    history: tuple[Sent, ...],
    covered: frozenset[str],
    now: float,
    settings: NotifierSettings,
) -> Plan:
    done = {(canonical(sent.contact.number), sent.kind) for sent in history if sent.status in _DONE}
    last: dict[str, Sent] = {}  # each number's latest message about the alarm being open
    for sent in history:
        number = canonical(sent.contact.number)
        if sent.status in _DONE and sent.kind != CLEAR and (number not in last or sent.at >= last[number].at):
            last[number] = sent
    held = alarm.klass != CRITICAL and quiet(now, settings)
    if alarm.cleared_at is not None:
        if now < alarm.cleared_at + settings.flap_hold_s:
            return Plan(())
        reached = {canonical(s.contact.number): s.contact for s in history if s.status in _REACHED and s.kind != CLEAR}
        owed = tuple(Due(contact, CLEAR) for number, contact in reached.items() if (number, CLEAR) not in done)
        if not owed:
            return Plan((), close=True)
        return Plan(() if held else owed)
    if alarm.acknowledged_at is not None and not alarm.stateful:
        return Plan((), close=True)
    if held:
        return Plan(())
    messages: dict[str, Due] = {}  # one message per number a round
    waiting = alarm.alarm in settings.pile_texts and now < alarm.opened_at + settings.pile_sms_grace_s
    for contact in (c for c in contacts if c.level == 1):
        number = canonical(contact.number)
        if (number, OPEN) in done or number in messages:
            continue
        if number in covered:
            messages[number] = Due(contact, OPEN, by_pile=True)
        elif not waiting:
            messages[number] = Due(contact, OPEN)
    if alarm.acknowledged_at is None:
        if now >= alarm.opened_at + settings.escalate_after_s:
            for contact in (c for c in contacts if c.level == 2):
                number = canonical(contact.number)
                if number not in last and number not in messages:
                    messages[number] = Due(contact, ESCALATION)
        for number, sent in last.items():
            if number not in messages and now >= sent.at + settings.repeat_s:
                messages[number] = Due(sent.contact, REPEAT)
    return Plan(tuple(messages.values()))


def apply_cap(
    messages: Sequence[Due], sent_today: dict[str, int], settings: NotifierSettings
) -> list[tuple[Due, bool]]:
    """Each of ``messages`` with whether the daily cap lets it go out, counting it in ``sent_today``
    (messages sent to each ``canonical`` number this local day; updated). What the pile sent costs nothing."""
    decided = []
    for due in messages:
        number = canonical(due.contact.number)
        allowed = due.by_pile or sent_today.get(number, 0) < settings.daily_cap
        if allowed and not due.by_pile:
            sent_today[number] = sent_today.get(number, 0) + 1
        decided.append((due, allowed))
    return decided
