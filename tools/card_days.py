"""The day numbers a card keeps its dates in (days since 2000-01-01, in two bytes), as ISO dates."""

from __future__ import annotations

import datetime

DAY_ZERO = datetime.date(2000, 1, 1)
DAY_MAX = 0xFFFF


def day_number(text: str) -> int:
    """The day number of the ISO date ``text``; ``ValueError`` for a malformed date or one out of range."""
    day = (datetime.date.fromisoformat(text) - DAY_ZERO).days
    if not 1 <= day <= DAY_MAX:
        raise ValueError("%s is outside the dates a card holds (2000-01-02 to 2179-06-06)" % text)
    return day


def day_text(day: int) -> str | None:
    """The ISO date of day number ``day``; None for 0 (no date)."""
    return (DAY_ZERO + datetime.timedelta(days=day)).isoformat() if day else None
