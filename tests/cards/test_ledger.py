"""The card ledger's own guarantees, whatever the desk checks before: an order settles one unlock, a card is
issued once, and an older record never overwrites what the ledger knows. Real SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from cloud_bridge import card_queries, card_status, cards, pile_keys
from firmware.card.record import PREPAID, CardRecord
from tests.bridge.helpers import count
from tests.cards.cards_helpers import order_arrives
from tests.cards.conftest import OPERATOR

UID = "c0ffee01"


def record(balance_fen: int, counter: int) -> CardRecord:
    return CardRecord(PREPAID, balance_fen, counter)


def test_an_order_settles_one_unlock_only(db, piles):
    cards.issue(db, UID, record(500, 1), OPERATOR)
    order_arrives(db, "p1", 17, UID, 4, 500, 180)
    card_status.unlock(db, UID, 320, record(820, 3), ("p1", 17), OPERATOR)
    assert card_queries.unlocked(db, "p1", 17)
    with pytest.raises(cards.CardRefused, match="order p1 #17 was unlocked onto a card before"):
        card_status.unlock(db, UID, 320, record(1140, 5), ("p1", 17), OPERATOR)
    assert count(db, "card_events", kind=cards.UNLOCK) == 1
    assert cards.get(db, UID).balance_fen == 820  # the refused unlock changed nothing
    assert count(db, "commands", pile="p1") == 1  # nor told the pile anything
    # The same order number from another pile is another order.
    card_status.unlock(db, UID, 100, record(920, 5), ("p2", 17), OPERATOR)
    assert [e["seq"] for e in card_queries.events(db, UID)] == [1, 2, 3]
    assert count(db, "commands", pile="p2") == 1


def test_an_unlock_whose_pile_cannot_be_told_records_nothing(db, piles):
    cards.issue(db, UID, record(500, 1), OPERATOR)
    with pytest.raises(pile_keys.UnknownPile):
        card_status.unlock(db, UID, 320, record(820, 3), ("p9", 17), OPERATOR)
    assert count(db, "card_events", kind=cards.UNLOCK) == 0 and count(db, "commands") == 0
    assert cards.get(db, UID).counter == 1


def test_a_card_is_issued_once(db):
    cards.issue(db, UID, record(500, 1), OPERATOR)
    with pytest.raises(cards.CardRefused, match="issued before"):
        cards.issue(db, UID, record(9000, 1), OPERATOR)
    assert cards.get(db, UID).balance_fen == 500 and count(db, "card_events") == 1


def test_an_older_record_does_not_replace_what_the_ledger_knows(db):
    cards.issue(db, UID, record(500, 1), OPERATOR)
    cards.saw(db, UID, record(300, 4))
    cards.saw(db, UID, record(500, 2))  # a dump from before, read back
    card = cards.get(db, UID)
    assert (card.balance_fen, card.counter) == (300, 4)


def test_a_cards_orders_are_its_card_and_pass_sessions(db):
    cards.issue(db, UID, record(500, 1), OPERATOR)
    order_arrives(db, "p1", 5, UID, 2, 200, 200, seq=1)
    order_arrives(db, "p1", 6, "c0ffee02", 2, 200, 50, seq=2)
    order_arrives(db, "p2", 7, UID, 3, 0, 0, seq=1, method="pass")
    order_arrives(db, "p2", 8, UID, 3, 100, 100, seq=2, method="qr")  # a QR payment's reference, not a card
    assert [(o["pile"], o["order_no"], o["method"]) for o in card_queries.orders(db, UID)] == [
        ("p1", 5, "card"),
        ("p2", 7, "pass"),
    ]


def test_a_card_that_used_more_than_it_was_given_is_found(db):
    cards.issue(db, UID, record(1000, 1), OPERATOR)
    cards.wrote(db, UID, cards.TOPUP, 500, record(1500, 2), OPERATOR)
    order_arrives(db, "p1", 5, UID, 2, 500, 500, seq=1)
    order_arrives(db, "p1", 6, UID, 2, 500, 500, seq=2)
    order_arrives(db, "p1", 7, UID, 2, 500, 400, seq=3)
    assert card_queries.overspent(db) == []  # 1400 of 1500 used
    order_arrives(db, "p2", 3, UID, 1, 500, 300, seq=1)  # a dump written back bought this one
    assert card_queries.overspent(db) == [
        {"uid": UID, "given_fen": 1500, "used_fen": 1700, "paid_out_fen": 0, "over_fen": 200}
    ]


def test_what_a_refund_paid_out_counts_as_spent(db):
    cards.issue(db, UID, record(1000, 1), OPERATOR)
    order_arrives(db, "p1", 5, UID, 2, 500, 400, seq=1)
    card_status.cancel(db, UID, 600, record(0, 3), OPERATOR)
    assert card_queries.overspent(db) == []
    order_arrives(db, "p1", 6, UID, 2, 500, 100, seq=2)  # the cancelled card's old dump, at a pile not yet told
    assert card_queries.overspent(db)[0]["over_fen"] == 100
