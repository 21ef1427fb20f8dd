"""The card ledger's own guarantees, whatever the desk checks before: an order settles one unlock and is asked
of its pile once (until the ask ends with nothing to go by), a card is issued once, and an older record
never overwrites what the ledger knows. Real SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from cloud_bridge import card_asks, card_queries, card_status, cards, commands, pile_keys
from cloud_bridge.card_asks import Answer
from firmware.card.record import PREPAID, CardRecord
from tests.bridge.helpers import count
from tests.cards.cards_helpers import order_arrives, pile_answered
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
    # The same order number from another pile is another order.
    card_status.unlock(db, UID, 100, record(920, 5), ("p2", 17), OPERATOR)
    assert [e["seq"] for e in card_queries.events(db, UID)] == [1, 2, 3]
    assert count(db, "commands") == 0  # the ask before the unlock was the pile's command


def test_an_order_is_asked_of_its_pile_once_until_the_ask_ends_with_nothing_to_go_by(db, piles):
    first = card_asks.ask(db, "p1", 17, UID)
    assert (first.kind, first.state) == ("cards", commands.PENDING)
    assert first.args == {"block": [], "unblock": [], "settled": [[UID, 17]]}
    assert card_asks.ask(db, "p1", 17, UID).id == first.id  # no answer yet: the same ask
    assert card_asks.ask(db, "p2", 17, UID).pile == "p2"  # another pile's order 17 is another order
    pile_answered(db, "p1", first.id, None, result=5, detail="card book not saved")
    refused = card_asks.ask(db, "p1", 17, UID)
    assert refused.id == first.id + 1
    pile_answered(db, "p1", refused.id, 0)  # the blocked count alone: no answer to go by
    answered = card_asks.ask(db, "p1", 17, UID)
    assert answered.id == refused.id + 1
    pile_answered(db, "p1", answered.id, [0, [[1, 2]]])
    assert card_asks.ask(db, "p1", 17, UID).id == answered.id  # answered: read again, never asked again
    assert card_asks.answer(commands.get(db, "p1", answered.id)) == Answer(True, 2)
    assert db.query("SELECT pile, order_no, uid, command_id FROM card_asks ORDER BY pile") == [
        ("p1", 17, UID, answered.id),
        ("p2", 17, UID, 1),
    ]


def test_an_ask_of_a_pile_without_a_key_records_nothing(db, piles):
    with pytest.raises(pile_keys.UnknownPile):
        card_asks.ask(db, "p9", 17, UID)
    assert count(db, "card_asks") == 0 and count(db, "commands") == 0


@pytest.mark.parametrize(
    ("data", "answer"),
    [
        ([3, [[1, 7]]], Answer(True, 7)),
        ([0, [[0, -1]]], Answer(False, -1)),
        (None, None),
        (4, None),  # a pile whose firmware answers the blocked count alone
        ([0, []], None),
        ([0, [[1, 7], [1, 7]]], None),
        ([0, [[2, 7]]], None),
        ([0, [[True, 7]]], None),
        ([0, [[1, "7"]]], None),
        ([0, [[1]]], None),
    ],
)
def test_the_piles_answer_is_read_only_in_its_own_shape(data, answer):
    command = commands.Command("p1", 1, "cards", {}, 0, 1, commands.DONE, 0, "", data, 1, 0.0, None, None)
    assert card_asks.answer(command) == answer


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
