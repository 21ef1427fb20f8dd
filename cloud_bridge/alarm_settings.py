"""The alarm notifier's settings (docs/alarms.md): timings, the daily cap, quiet hours, classes.

Read from a JSON file whose keys are the field names (``cloud-bridge notify --settings FILE``); a key
left out keeps its default, an unknown key or a bad value is refused as a whole.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from cloud_bridge.alarm_kinds import CLASSES, DEFAULT_CLASSES, NORMAL, PILE_TEXTS

_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])\Z")
MINUTES_PER_DAY = 24 * 60


def minute_of_day(text: str) -> int:
    """``"22:00"`` as minutes after midnight; ``ValueError`` if it is not HH:MM."""
    match = _CLOCK.match(text)
    if match is None:
        raise ValueError("expected HH:MM, got %r" % text)
    return int(match.group(1)) * 60 + int(match.group(2))


@dataclass(frozen=True)
class NotifierSettings:
    """``repeat_s``: a reminder to whoever was told, this long after their last message, while the alarm
    is open and unacknowledged. ``escalate_after_s``: after this long open and unacknowledged, the
    level-2 contacts are told. ``daily_cap``: messages per recipient per local day at most (the rest are
    recorded as capped and counted in the recipient's next message). ``quiet_start``/``quiet_end``: local
    HH:MM between which messages about ``normal`` alarms are held (equal: no quiet hours).
    ``utc_offset_min``: local time's offset from UTC (China: 480, no daylight saving). ``pile_sms_grace_s``:
    how long to wait for the pile's ``sms_sent`` reports of the types in ``pile_texts`` before texting the
    numbers they do not name. ``flap_hold_s``: a cleared alarm stays open this long; raised again meanwhile
    it is the same alarm and nothing is sent; the clear is sent after it. ``offline_after_s``: a pile
    offline this long raises ``offline``. ``backlog_s``: alarm records received longer ago than this when
    the notifier first sees them are history, not news. ``retry_s``: a message the provider failed is
    tried again this long after. ``every_s``: seconds between rounds.
    ``classes``: overrides of ``alarm_kinds.DEFAULT_CLASSES`` (``critical``, ``normal``, ``ignore``)."""

    repeat_s: float = 1800.0
    escalate_after_s: float = 900.0
    daily_cap: int = 20
    quiet_start: str = "22:00"
    quiet_end: str = "07:00"
    utc_offset_min: int = 480
    pile_sms_grace_s: float = 120.0
    pile_texts: tuple[str, ...] = PILE_TEXTS
    flap_hold_s: float = 300.0
    offline_after_s: float = 600.0
    backlog_s: float = 6 * 3600.0
    retry_s: float = 60.0
    every_s: float = 10.0
    classes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("repeat_s", "escalate_after_s", "flap_hold_s", "offline_after_s", "backlog_s", "every_s"):
            if getattr(self, name) <= 0:
                raise ValueError("%s must be above 0" % name)
        if self.pile_sms_grace_s < 0 or self.retry_s < 0 or self.daily_cap < 1:
            raise ValueError("pile_sms_grace_s and retry_s must be at least 0, daily_cap at least 1")
        for clock in (self.quiet_start, self.quiet_end):
            minute_of_day(clock)  # raises for a bad one
        bad = {alarm: kind for alarm, kind in self.classes.items() if kind not in CLASSES}
        if bad:
            raise ValueError("classes must be one of %s: %r" % ("/".join(CLASSES), bad))

    def class_of(self, alarm: str) -> str:
        """The class of an alarm type: the override, else the default, else ``normal``."""
        return self.classes.get(alarm) or DEFAULT_CLASSES.get(alarm, NORMAL)

    @classmethod
    def from_file(cls, path: str | Path) -> NotifierSettings:
        """The settings in a JSON file; ``ValueError`` naming what is wrong."""
        given = json.loads(Path(path).read_text())
        if type(given) is not dict:
            raise ValueError("%s: expected a JSON object" % path)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(given) - known)
        if unknown:
            raise ValueError("%s: unknown settings %s" % (path, ", ".join(unknown)))
        if "pile_texts" in given:
            given["pile_texts"] = tuple(given["pile_texts"])
        return cls(**given)
