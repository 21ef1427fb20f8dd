"""``pilectl card unlock`` (解灰): a card left marked by a session whose resident walked away gets back
exactly what the pile's order returned, once; the order is stored by the bridge's own ingest, and the pile
that still owes the refund is told it is paid."""

from __future__ import annotations

from boards.sim.world.cards import blank_card, record_of
from boards.sim.world.mifare import ClassicCard
from cloud_bridge import card_queries, card_status, cards
from firmware.card.record import pile_tag
from tests.bridge.helpers import count
from tests.cards.cards_helpers import order_arrives, put_back_when_pulled, sent_bodies, session_started

UID = bytes.fromhex("9a9b9c9d")
HELD_FEN = 500
USED_FEN = 180


def grey_card(desk) -> ClassicCard:
    """A prepaid card issued with 1000 fen, then marked by a session on p1 port 4 holding 500 fen (order 17)."""
    card = blank_card(UID)
    desk.chip.present(card)
    assert desk.run("issue", "--kind", "prepaid", "--balance", "1000")[0] == 0
    session_started(desk.site_key, card, "p1", 4, HELD_FEN, 17)
    return card


def test_a_walk_away_session_is_unlocked_with_exactly_what_the_order_returned_once(desk, piles):
    card = grey_card(desk)
    order_arrives(desk.db, "p1", 17, UID.hex(), 4, HELD_FEN, USED_FEN)
    status, result = desk.run("unlock")
    assert status == 0, result
    [(pile, command_id)] = result.pop("commands")
    assert result == {
        "uid": UID.hex(),
        "pile": "p1",
        "order_no": 17,
        "returned_fen": HELD_FEN - USED_FEN,
        "balance_fen": 1000 - USED_FEN,
        "counter": 3,
    }
    # p1 still owes the card its refund: it is told the order is settled (key 6), and no other pile is.
    bodies = sent_bodies(desk.db, piles)
    assert bodies["p2"] == []
    [told] = bodies["p1"]
    assert (pile, command_id, told[1]) == ("p1", told[0], "cards")
    assert (told[4], told[5], told[6]) == ([], [], [[UID.hex(), 17]])
    assert told[2] - told[3] == card_status.CARDS_COMMAND_TTL_S
    record = record_of(desk.site_key, card)
    assert (record.balance_fen, record.open_session(), record.held_fen, record.session_order) == (820, False, 0, 0)
    unlock = card_queries.events(desk.db, UID.hex())[-1]
    assert (unlock["kind"], unlock["fen"], unlock["pile"], unlock["order_no"]) == (cards.UNLOCK, 320, "p1", 17)
    status, again = desk.run("unlock")
    assert status == 1 and "no open session" in again["refused"]
    assert record_of(desk.site_key, card).balance_fen == 820
    assert count(desk.db, "card_events", kind=cards.UNLOCK) == 1


def test_an_unlock_before_the_order_arrives_is_refused_and_the_bridge_shows_the_open_session(desk, piles):
    card = grey_card(desk)
    status, result = desk.run("unlock")
    assert status == 1 and "has not reached the bridge yet" in result["refused"]
    assert "order #17, port 4, 500 fen held" in result["refused"]
    assert record_of(desk.site_key, card).balance_fen == 500
    status, history = desk.run("history", UID.hex())
    assert status == 0
    assert history["open_session"] == {
        "pile_tag": pile_tag("p1"),
        "port": 4,
        "held_fen": HELD_FEN,
        "order_no": 17,
        "seen_at": history["card"]["seen_at"],
        "order": None,
    }
    order_arrives(desk.db, "p1", 17, UID.hex(), 4, HELD_FEN, USED_FEN)
    status, history = desk.run("history", UID.hex())
    assert history["open_session"]["order"]["returned_fen"] == 320
    assert [(o["pile"], o["order_no"], o["method"]) for o in history["orders"]] == [("p1", 17, "card")]
    assert desk.run("unlock")[0] == 0
    status, history = desk.run("history", UID.hex())
    assert history["open_session"] is None
    assert [e["kind"] for e in history["events"]] == [cards.ISSUE, cards.UNLOCK]


def test_the_grey_dump_written_back_after_the_unlock_is_refused(desk, piles):
    card = grey_card(desk)
    grey = card.dump()
    order_arrives(desk.db, "p1", 17, UID.hex(), 4, HELD_FEN, USED_FEN)
    assert desk.run("unlock")[0] == 0
    desk.chip.present(ClassicCard.from_dump(grey, magic=False))
    status, result = desk.run("unlock")
    assert status == 1 and "older record" in result["refused"]
    assert count(desk.db, "card_events", kind=cards.UNLOCK) == 1


def test_an_order_of_another_pile_with_the_same_number_is_not_the_cards(desk):
    grey_card(desk)
    order_arrives(desk.db, "p2", 17, UID.hex(), 4, HELD_FEN, 0)
    status, result = desk.run("unlock")
    assert status == 1 and "has not reached the bridge yet" in result["refused"]


def test_an_order_that_does_not_match_the_marker_is_refused(desk):
    card = grey_card(desk)
    order_arrives(desk.db, "p1", 17, UID.hex(), 4, HELD_FEN + 100, USED_FEN)
    status, result = desk.run("unlock")
    assert status == 1 and "does not match the card's session" in result["refused"]
    assert record_of(desk.site_key, card).balance_fen == 500


def test_an_unlock_pulled_mid_write_and_put_back_writes_nothing_and_can_be_done_again(desk, piles):
    card = grey_card(desk)
    order_arrives(desk.db, "p1", 17, UID.hex(), 4, HELD_FEN, USED_FEN)
    desk.chip.tear_next_write()
    put_back_when_pulled(desk.chip, card)
    status, result = desk.run("unlock")
    assert status == 1 and "nothing was recorded" in result["refused"]
    assert record_of(desk.site_key, card).open_session()
    assert count(desk.db, "card_events", kind=cards.UNLOCK) == 0 and count(desk.db, "commands") == 0
    assert desk.run("unlock")[0] == 0
    assert record_of(desk.site_key, card).balance_fen == 820
    assert count(desk.db, "commands", pile="p1", kind="cards") == 1


def test_an_unlock_at_a_pile_the_bridge_cannot_command_is_refused_before_the_card_is_written(desk):
    """Without p1's key the bridge cannot tell p1 the refund is paid, and p1 would pay it again to a copy of
    the grey card: the card keeps its marker until the key is added."""
    card = grey_card(desk)
    order_arrives(desk.db, "p1", 17, UID.hex(), 4, HELD_FEN, USED_FEN)
    status, result = desk.run("unlock")
    assert status == 1 and "no command key for pile p1" in result["refused"]
    record = record_of(desk.site_key, card)
    assert (record.balance_fen, record.open_session(), record.counter) == (500, True, 2)
    assert count(desk.db, "card_events", kind=cards.UNLOCK) == 0 and count(desk.db, "commands") == 0
