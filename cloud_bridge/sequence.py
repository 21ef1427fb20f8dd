"""Which records of one (pile, boot) are stored, and the gaps in between.

A pile numbers its records 1, 2, 3, ... within a boot and sends them in order, so what the bridge
holds of a boot is always "1 up to the highest seq, except the gaps". That makes the duplicate check
an in-memory lookup instead of a database round trip per message, and finds gaps as they open.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Gap:
    """Records ``first``..``last`` (inclusive) of a boot that have not arrived."""

    first: int
    last: int
    found_at: float  # when the record after the gap arrived


@dataclass(slots=True)
class BootLedger:
    """The stored seqs of one (pile, boot): 1..``top`` except ``gaps`` (sorted, disjoint)."""

    top: int = 0
    gaps: list[Gap] = field(default_factory=list)
    gaps_changed: bool = False  # since the last write to the database

    def admit(self, seq: int, received_at: float) -> bool:
        """Record ``seq`` as stored; False when it already was (a duplicate delivery)."""
        if seq > self.top:
            if seq > self.top + 1:
                self.gaps.append(Gap(self.top + 1, seq - 1, received_at))
                self.gaps_changed = True
            self.top = seq
            return True
        for index, gap in enumerate(self.gaps):
            if gap.first <= seq <= gap.last:
                self._fill(index, gap, seq)
                return True
        return False

    def _fill(self, index: int, gap: Gap, seq: int) -> None:
        """A late record arrived inside ``gap``: shrink, split or remove it."""
        self.gaps_changed = True
        if gap.first == gap.last:
            del self.gaps[index]
        elif seq == gap.first:
            gap.first += 1
        elif seq == gap.last:
            gap.last -= 1
        else:
            self.gaps.insert(index + 1, Gap(seq + 1, gap.last, gap.found_at))
            gap.last = seq - 1
