"""``pilectl card unlock`` (解灰): a card left marked by a session whose resident walked away gets back
exactly what the pile's order returned, once; the order is stored by the bridge's own ingest. The desk asks
the order's pile first (a ``cards`` command settling the order) and writes the card only on its answer,
which the pile gives here as the bridge's channel stores it."""

from __future__ import annotations

import time

import pytest

from boards.sim.world.cards import blank_card, record_of
from boards.sim.world.mifare import ClassicCard
from cloud_bridge import card_queries, card_status, cards, commands
from cloud_bridge.channel import EXPIRY_GRACE_S
from firmware.card.record import pile_tag
from tests.bridge.helpers import count
from tests.cards.cards_helpers import (
    order_arrives,
    pile_answered,
    pile_answers_when_asked,
    pile_writes,
    put_back_when_pulled,
    sent_bodies,
    session_started,
)

UID = bytes.fromhex("9a9b9c9d")
HELD_FEN = 500
USED_FEN = 180
RETURNED_FEN = HELD_FEN - USED_FEN
MARKED_COUNTER = 2  # issued at 1, marked by the session's start at 2
RELEASED = [0, [[1, MARKED_COUNTER]]]  # the pile owed the refund, and saw the card last as the start left it


def grey_card(desk) -> ClassicCard:
    """A prepaid card issued with 1000 fen, then marked by a session on p1 port 4 holding 500 fen (order 17)."""
    card = blank_card(UID)
    desk.chip.present(card)
    assert desk.run("issue", "--kind", "prepaid", "--balance", "1000")[0] == 0
    session_started(desk.site_key, card, "p1", 4, HELD_FEN, 17)
    return card


def unlock_answered(desk, piles, data=RELEASED, result: int = 0, detail: str = "") -> tuple[int, dict]:
    """``unlock`` while p1 answers the ask it makes with ``data`` (``result``, ``detail``)."""
    answering = pile_answers_when_asked(desk.db.url, "p1", piles["p1"], data, result, detail)
    outcome = desk.run("unlock", "--pile-wait", "10")
    answering.join(10)
    return outcome


def asks(desk) -> list[tuple]:
    return desk.db.query("SELECT pile, order_no, uid, command_id FROM card_asks ORDER BY pile, order_no")


def nothing_written_nor_recorded(desk, card: ClassicCard, image: dict) -> None:
    assert card.dump() == image
    assert count(desk.db, "card_events", kind=cards.UNLOCK) == 0


def test_a_walk_away_session_is_unlocked_once_its_pile_released_the_refund(desk, piles):
    card = grey_card(desk)
    order_arrives(desk.db, "p1", 17, UID.hex(), 4, HELD_FEN, USED_FEN)
    status, result = unlock_answered(desk, piles)
    assert status == 0, result
    [(pile, command_id)] = result.pop("commands")
    assert result == {
        "uid": UID.hex(),
        "pile": "p1",
        "order_no": 17,
        "returned_fen": RETURNED_FEN,
        "balance_fen": 1000 - USED_FEN,
        "counter": 3,
        "pile_released": True,
    }
    # p1 was asked (key 6: the order settled) before the card was written, once; no other pile was.
    bodies = sent_bodies(desk.db, piles)
    assert bodies["p2"] == []
    [asked] = bodies["p1"]
    assert (pile, command_id, asked[1]) == ("p1", asked[0], "cards")
    assert (asked[4], asked[5], asked[6]) == ([], [], [[UID.hex(), 17]])
    assert asked[2] - asked[3] == card_status.CARDS_COMMAND_TTL_S
    assert asks(desk) == [("p1", 17, UID.hex(), command_id)]
    record = record_of(desk.site_key, card)
    assert (record.balance_fen, record.open_session(), record.held_fen, record.session_order) == (820, False, 0, 0)
    unlock = card_queries.events(desk.db, UID.hex())[-1]
    assert (unlock["kind"], unlock["fen"], unlock["pile"], unlock["order_no"]) == (cards.UNLOCK, 320, "p1", 17)
    status, again = desk.run("unlock")
    assert status == 1 and "no open session" in again["refused"]
    assert record_of(desk.site_key, card).balance_fen == 820
    assert count(desk.db, "card_events", kind=cards.UNLOCK) == 1 and count(desk.db, "commands") == 1


def test_a_grey_dump_of_a_card_its_pile_already_paid_is_refused(desk, piles):
    """The pile wrote the refund onto the card at a swipe (counter 3); the grey copy from before (counter 2)
    written back and taken to the desk gets nothing: the pile owes nothing and saw the newer counter."""
    card = grey_card(desk)
    grey = card.dump()

    def paid_at_the_pile(record) -> None:
        record.balance_fen += RETURNED_FEN
        record.session_pile = record.session_port = record.held_fen = record.session_order = 0

    pile_writes(desk.site_key, card, paid_at_the_pile)
    order_arrives(desk.db, "p1", 17, UID.hex(), 4, HELD_FEN, USED_FEN)
    dump = ClassicCard.from_dump(grey, magic=False)
    desk.chip.present(dump)
    status, result = unlock_answered(desk, piles, [0, [[0, MARKED_COUNTER + 1]]])
    assert status == 1, result
    assert "put this refund on the card itself" in result["refused"]
    assert "(counter 3; this one holds 2)" in result["refused"]
    nothing_written_nor_recorded(desk, dump, grey)
    # Asked again, the desk reads the same answer: no second command, the same refusal.
    status, again = desk.run("unlock", "--pile-wait", "0")
    assert status == 1 and "older copy of the card written back" in again["refused"]
    nothing_written_nor_recorded(desk, dump, grey)
    assert count(desk.db, "commands") == 1


def test_a_card_older_than_one_its_pile_saw_is_refused_even_when_the_pile_released_the_refund(desk, piles):
    card = grey_card(desk)
    order_arrives(desk.db, "p1", 17, UID.hex(), 4, HELD_FEN, USED_FEN)
    image = card.dump()
    status, result = unlock_answered(desk, piles, [0, [[1, MARKED_COUNTER + 1]]])
    assert status == 1, result
    assert "holds counter 2, older than the 3 pile p1 (asked by command 1) saw on it" in result["refused"]
    nothing_written_nor_recorded(desk, card, image)


@pytest.mark.parametrize("seen", [-1, MARKED_COUNTER])
def test_a_refund_the_piles_book_no_longer_holds_is_paid_at_the_desk(desk, piles, seen):
    """A pile keeps a bounded book: one that dropped the session owes nothing, yet never paid it (it forgot
    the card too, or saw it last as the start left it)."""
    card = grey_card(desk)
    order_arrives(desk.db, "p1", 17, UID.hex(), 4, HELD_FEN, USED_FEN)
    status, result = unlock_answered(desk, piles, [0, [[0, seen]]])
    assert status == 0, result
    assert (result["pile_released"], result["returned_fen"]) == (False, RETURNED_FEN)
    record = record_of(desk.site_key, card)
    assert (record.balance_fen, record.counter, record.open_session()) == (820, 3, False)
    assert count(desk.db, "card_events", kind=cards.UNLOCK) == 1


def test_no_answer_within_the_wait_writes_nothing_and_the_next_unlock_reads_the_answer(desk, piles):
    card = grey_card(desk)
    order_arrives(desk.db, "p1", 17, UID.hex(), 4, HELD_FEN, USED_FEN)
    image = card.dump()
    started = time.monotonic()
    status, result = desk.run("unlock", "--pile-wait", "0.5")
    assert time.monotonic() - started >= 0.5
    assert status == 5 and result["outcome"] == "waiting for the pile", result
    assert "pile p1 (asked by command 1) has not answered yet" in result["refused"]
    nothing_written_nor_recorded(desk, card, image)
    assert desk.run("unlock", "--pile-wait", "0")[0] == 5  # still no answer: the same ask, not another
    assert count(desk.db, "commands") == 1 and asks(desk) == [("p1", 17, UID.hex(), 1)]
    nothing_written_nor_recorded(desk, card, image)
    assert pile_answered(desk.db, "p1", 1, RELEASED) == "settled"
    status, result = desk.run("unlock", "--pile-wait", "0")
    assert status == 0, result
    assert result["commands"] == [["p1", 1]] and count(desk.db, "commands") == 1
    assert record_of(desk.site_key, card).balance_fen == 820
    assert count(desk.db, "card_events", kind=cards.UNLOCK) == 1


def test_an_ask_that_expired_unanswered_is_replaced_by_a_new_one(desk, piles):
    card = grey_card(desk)
    order_arrives(desk.db, "p1", 17, UID.hex(), 4, HELD_FEN, USED_FEN)
    assert desk.run("unlock", "--pile-wait", "0")[0] == 5
    # The pile stayed away past the command's life: the channel calls it never acked.
    past = time.time() + card_status.CARDS_COMMAND_TTL_S + EXPIRY_GRACE_S + 1
    [expired] = commands.expire_overdue(desk.db, past, EXPIRY_GRACE_S)
    status, result = unlock_answered(desk, piles)
    assert status == 0, result
    assert result["commands"] == [["p1", expired.id + 1]]
    assert asks(desk) == [("p1", 17, UID.hex(), expired.id + 1)]
    assert commands.get(desk.db, "p1", expired.id).state == commands.EXPIRED
    assert record_of(desk.site_key, card).balance_fen == 820


def test_an_ask_the_pile_refuses_writes_nothing_and_the_next_unlock_asks_again(desk, piles):
    card = grey_card(desk)
    order_arrives(desk.db, "p1", 17, UID.hex(), 4, HELD_FEN, USED_FEN)
    image = card.dump()
    status, result = unlock_answered(desk, piles, None, result=5, detail="card book not saved")
    assert status == 1, result
    assert "the ask of pile p1 (asked by command 1) ended refused (card book not saved)" in result["refused"]
    nothing_written_nor_recorded(desk, card, image)
    # A pile whose firmware answers the blocked count alone does not say whether it paid: refused too.
    status, result = unlock_answered(desk, piles, 0)
    assert status == 1 and "answered without its card book's answer (data 0)" in result["refused"]
    nothing_written_nor_recorded(desk, card, image)
    status, result = unlock_answered(desk, piles)
    assert status == 0 and result["commands"] == [["p1", 3]], result
    assert asks(desk) == [("p1", 17, UID.hex(), 3)]
    assert record_of(desk.site_key, card).balance_fen == 820


def test_an_unlock_before_the_order_arrives_is_refused_and_the_bridge_shows_the_open_session(desk, piles):
    card = grey_card(desk)
    status, result = desk.run("unlock")
    assert status == 1 and "has not reached the bridge yet" in result["refused"]
    assert "order #17, port 4, 500 fen held" in result["refused"]
    assert record_of(desk.site_key, card).balance_fen == 500
    assert count(desk.db, "commands") == 0
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
    assert unlock_answered(desk, piles)[0] == 0
    status, history = desk.run("history", UID.hex())
    assert history["open_session"] is None
    assert [e["kind"] for e in history["events"]] == [cards.ISSUE, cards.UNLOCK]


def test_the_grey_dump_written_back_after_the_unlock_is_refused(desk, piles):
    card = grey_card(desk)
    grey = card.dump()
    order_arrives(desk.db, "p1", 17, UID.hex(), 4, HELD_FEN, USED_FEN)
    assert unlock_answered(desk, piles)[0] == 0
    desk.chip.present(ClassicCard.from_dump(grey, magic=False))
    status, result = desk.run("unlock")
    assert status == 1 and "older record" in result["refused"]
    assert count(desk.db, "card_events", kind=cards.UNLOCK) == 1 and count(desk.db, "commands") == 1


def test_an_order_of_another_pile_with_the_same_number_is_not_the_cards(desk):
    grey_card(desk)
    order_arrives(desk.db, "p2", 17, UID.hex(), 4, HELD_FEN, 0)
    status, result = desk.run("unlock")
    assert status == 1 and "has not reached the bridge yet" in result["refused"]


def test_an_order_that_does_not_match_the_marker_is_refused_before_the_pile_is_asked(desk, piles):
    card = grey_card(desk)
    order_arrives(desk.db, "p1", 17, UID.hex(), 4, HELD_FEN + 100, USED_FEN)
    status, result = desk.run("unlock")
    assert status == 1 and "does not match the card's session" in result["refused"]
    assert record_of(desk.site_key, card).balance_fen == 500
    assert count(desk.db, "commands") == 0 and asks(desk) == []


def test_an_unlock_pulled_mid_write_and_put_back_writes_nothing_and_can_be_done_again(desk, piles):
    card = grey_card(desk)
    order_arrives(desk.db, "p1", 17, UID.hex(), 4, HELD_FEN, USED_FEN)
    desk.chip.tear_next_write()
    put_back_when_pulled(desk.chip, card)
    status, result = unlock_answered(desk, piles)
    assert status == 1 and "nothing was recorded" in result["refused"]
    assert record_of(desk.site_key, card).open_session()
    assert count(desk.db, "card_events", kind=cards.UNLOCK) == 0
    # The pile released the refund on the first ask: the desk writes it on that answer, asking nothing more.
    assert desk.run("unlock", "--pile-wait", "0")[0] == 0
    assert record_of(desk.site_key, card).balance_fen == 820
    assert count(desk.db, "commands", pile="p1", kind="cards") == 1


def test_an_unlock_at_a_pile_the_bridge_cannot_command_is_refused_before_the_card_is_written(desk):
    """Without p1's key the bridge cannot ask p1 whether it paid the refund or still owes it: the card keeps
    its marker until the key is added."""
    card = grey_card(desk)
    order_arrives(desk.db, "p1", 17, UID.hex(), 4, HELD_FEN, USED_FEN)
    status, result = desk.run("unlock")
    assert status == 1 and "no command key for pile p1" in result["refused"]
    record = record_of(desk.site_key, card)
    assert (record.balance_fen, record.open_session(), record.counter) == (500, True, 2)
    assert count(desk.db, "card_events", kind=cards.UNLOCK) == 0 and count(desk.db, "commands") == 0
    assert asks(desk) == []
