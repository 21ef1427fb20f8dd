"""The per-boot ledger: duplicates recognised, gaps opened, late records shrinking and splitting them."""

from __future__ import annotations

from cloud_bridge.sequence import BootLedger, Gap


def spans(ledger: BootLedger) -> list[tuple[int, int]]:
    return [(gap.first, gap.last) for gap in ledger.gaps]


def test_in_order_records_are_new_once():
    ledger = BootLedger()
    assert [ledger.admit(seq, 0.0) for seq in (1, 2, 3)] == [True, True, True]
    assert [ledger.admit(seq, 0.0) for seq in (3, 1, 2)] == [False, False, False]
    assert ledger.top == 3 and ledger.gaps == [] and not ledger.gaps_changed


def test_a_skip_opens_a_gap_and_late_records_close_it():
    ledger = BootLedger()
    ledger.admit(1, 0.0)
    assert ledger.admit(9, 5.0)
    assert spans(ledger) == [(2, 8)] and ledger.gaps[0].found_at == 5.0 and ledger.gaps_changed
    assert ledger.admit(5, 6.0)  # split
    assert spans(ledger) == [(2, 4), (6, 8)] and ledger.gaps[1].found_at == 5.0
    assert ledger.admit(2, 6.0) and ledger.admit(8, 6.0)  # shrink from either end
    assert spans(ledger) == [(3, 4), (6, 7)]
    assert not ledger.admit(5, 6.0) and not ledger.admit(9, 6.0)  # already stored
    for seq in (3, 4, 6, 7):
        assert ledger.admit(seq, 7.0)
    assert spans(ledger) == []
    assert not ledger.admit(4, 7.0)


def test_a_boot_first_seen_past_its_start_has_a_gap_from_1():
    ledger = BootLedger()
    assert ledger.admit(4, 1.0)
    assert spans(ledger) == [(1, 3)]


def test_a_ledger_read_back_from_the_database_continues():
    ledger = BootLedger()
    for seq in (1, 5, 9):
        ledger.admit(seq, 0.0)
    again = BootLedger(ledger.top, [Gap(gap.first, gap.last, gap.found_at) for gap in ledger.gaps])
    assert not again.admit(5, 0.0) and again.admit(3, 0.0) and again.admit(10, 0.0)
    assert spans(again) == [(2, 2), (4, 4), (6, 8)]
