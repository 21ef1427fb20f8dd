"""``pilectl card refund``: a card is cancelled, its balance paid out once, nothing left on it, and every pile
told to refuse it; ``block`` and ``unblock`` from the command line."""

from __future__ import annotations

import pytest

from boards.sim.world.cards import blank_card, newest_slot, record_of
from boards.sim.world.mifare import ClassicCard
from cloud_bridge import card_queries, card_status, cards
from tests.bridge.helpers import count
from tests.cards.cards_helpers import put_back_when_pulled, session_started
from tools import pilectl

UID = bytes.fromhex("7e7e7e01")


def issued(desk, balance_fen: int = 1200) -> ClassicCard:
    card = blank_card(UID)
    desk.chip.present(card)
    assert desk.run("issue", "--kind", "prepaid", "--balance", str(balance_fen))[0] == 0
    return card


def test_a_refund_pays_out_the_balance_blanks_the_card_and_blocks_it_on_every_pile(desk, piles):
    card = issued(desk)
    assert desk.run("topup", "--fen", "300")[0] == 0
    status, result = desk.run("refund")
    assert status == 0, result
    assert result == {"uid": UID.hex(), "paid_out_fen": 1500, "blanked": True, "piles_told": len(piles)}
    assert newest_slot(desk.site_key, card) == (None, None)
    assert cards.get(desk.db, UID.hex()).status == cards.CANCELLED
    refund = card_queries.events(desk.db, UID.hex())[-1]
    assert (refund["kind"], refund["fen"], refund["balance_fen"]) == (cards.REFUND, -1500, 0)
    assert count(desk.db, "commands", kind="cards") == len(piles)
    status, again = desk.run("refund")
    assert status == 1 and "no record" in again["refused"]
    assert count(desk.db, "card_events", kind=cards.REFUND) == 1


def test_a_card_with_an_open_session_is_not_refunded(desk, piles):
    card = issued(desk)
    session_started(desk.site_key, card, "p1", 2, 400, 9)
    status, result = desk.run("refund")
    assert status == 1 and "unlock it first" in result["refused"]
    assert record_of(desk.site_key, card).balance_fen == 800
    assert cards.get(desk.db, UID.hex()).status == cards.ACTIVE
    # The refund of the session goes through unlock alone, which asks its pile first: nothing asked here.
    assert count(desk.db, "commands") == 0 and count(desk.db, "card_asks") == 0


def test_a_refund_pulled_before_its_record_is_written_cancels_nothing(desk, piles):
    card = issued(desk)
    desk.chip.tear_next_write()
    put_back_when_pulled(desk.chip, card)
    status, result = desk.run("refund")
    assert status == 1 and "nothing was recorded" in result["refused"]
    assert record_of(desk.site_key, card).balance_fen == 1200
    assert cards.get(desk.db, UID.hex()).status == cards.ACTIVE
    assert count(desk.db, "commands") == 0


def test_a_blocked_card_found_again_is_refunded_without_a_second_block(desk, piles):
    issued(desk)
    status, blocked = desk.run("block", UID.hex())
    assert status == 0 and len(blocked["commands"]) == len(piles)
    status, result = desk.run("refund")
    assert status == 0 and result["piles_told"] == 0
    assert card_status.blacklist(desk.db) == [UID.hex()]


def test_block_and_unblock_from_the_command_line(desk, piles):
    issued(desk)
    status, result = desk.run("block", UID.hex().upper())
    assert status == 0 and result["status"] == cards.BLOCKED
    status, listed = desk.run("blacklist")
    assert listed == {"blacklist": [UID.hex()]}
    status, pushed = desk.run("blacklist", "--push", "p2")
    assert status == 0 and len(pushed["commands"]) == 1
    status, result = desk.run("unblock", UID.hex())
    assert status == 0 and result["status"] == cards.ACTIVE
    status, result = desk.run("unblock", UID.hex())
    assert status == 1 and "only a blocked card" in result["refused"]
    status, result = desk.run("blacklist", "--push", "p9")
    assert status == 1 and "no key for pile 'p9'" in result["refused"]
    assert desk.run("overspent") == (0, {"overspent": []})


def test_a_malformed_database_url_is_a_refusal(desk, capsys):
    assert pilectl.main(["card", "blacklist", "--db", "mysql://desk", "--operator", "x"]) == 1
    assert "database URL must be" in capsys.readouterr().out


def test_a_malformed_uid_is_a_usage_error(desk, capsys):
    with pytest.raises(SystemExit) as usage:
        pilectl.main(["card", "block", "not-a-uid", "--db", desk.db.url])
    assert usage.value.code == 2
    assert "is not a card UID" in capsys.readouterr().err
