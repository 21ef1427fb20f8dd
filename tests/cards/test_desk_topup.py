"""``pilectl card topup``: money onto a prepaid card, written as the pile writes (the other slot, counter one
higher, MAC last), recorded only once the card holds it; and every card the desk must not serve."""

from __future__ import annotations

import os

import pytest

from boards.sim.world.cards import blank_card, cloned_card, newest_slot, record_of, tampered_card
from boards.sim.world.mifare import ClassicCard
from boards.sim.world.serial_link import open_raw_pty
from cloud_bridge import card_queries, card_status, cards
from tests.bridge.helpers import count
from tests.cards.cards_helpers import pile_writes, put_back_when_pulled, session_started
from tests.cards.conftest import OPERATOR
from tools import pilectl

UID = bytes.fromhex("5e5e0001")


def issued(desk, *args: str) -> ClassicCard:
    """A card issued at this desk (prepaid, 1000 fen, unless ``args`` say otherwise), on the reader."""
    card = blank_card(UID)
    desk.chip.present(card)
    status, result = desk.run("issue", *(args or ("--kind", "prepaid", "--balance", "1000")))
    assert status == 0, result
    return card


def test_a_top_up_goes_into_the_other_slot_and_is_recorded(desk):
    card = issued(desk)
    status, result = desk.run("topup", "--fen", "500")
    assert status == 0, result
    assert result == {"uid": UID.hex(), "topup_fen": 500, "balance_fen": 1500, "counter": 2}
    assert newest_slot(desk.site_key, card)[0] == 1
    assert desk.run("topup", "--fen", "250")[0] == 0
    slot, record = newest_slot(desk.site_key, card)
    assert (slot, record.balance_fen, record.counter) == (0, 1750, 3)
    events = card_queries.events(desk.db, UID.hex())
    assert [(e["kind"], e["fen"], e["balance_fen"], e["counter"]) for e in events] == [
        (cards.ISSUE, 1000, 1000, 1),
        (cards.TOPUP, 500, 1500, 2),
        (cards.TOPUP, 250, 1750, 3),
    ]
    assert cards.get(desk.db, UID.hex()).balance_fen == 1750


def test_a_top_up_after_pile_sessions_adds_to_what_the_card_holds(desk):
    card = issued(desk)

    def spend(record):
        record.balance_fen -= 300

    pile_writes(desk.site_key, card, spend)
    pile_writes(desk.site_key, card, spend)
    status, result = desk.run("topup", "--fen", "1000")
    assert status == 0 and (result["balance_fen"], result["counter"]) == (1400, 4)


def test_a_card_pulled_mid_write_and_put_back_keeps_its_old_balance_and_nothing_is_recorded(desk):
    card = issued(desk)
    desk.chip.tear_next_write()
    put_back_when_pulled(desk.chip, card)
    status, result = desk.run("topup", "--fen", "500")
    assert status == 1 and "still holds its record before (balance 1000 fen)" in result["refused"]
    assert record_of(desk.site_key, card).balance_fen == 1000
    assert count(desk.db, "card_events") == 1
    assert cards.get(desk.db, UID.hex()).balance_fen == 1000
    # The torn slot is the one the next write goes to; the top-up then goes through.
    assert desk.run("topup", "--fen", "500")[0] == 0
    assert record_of(desk.site_key, card).balance_fen == 1500


def test_a_card_pulled_mid_write_that_never_comes_back_records_nothing(desk):
    card = issued(desk)
    desk.chip.tear_next_write()
    status, result = desk.run("topup", "--fen", "500", wait_s=0.3)
    assert status == 3 and result["outcome"] == "unknown"
    assert "1000 fen (before) or 1500 fen (after)" in result["refused"]
    assert count(desk.db, "card_events") == 1
    assert record_of(desk.site_key, card).balance_fen == 1000


def test_a_top_up_out_of_range_is_refused_and_writes_nothing(desk):
    card = issued(desk, "--kind", "prepaid", "--balance", "999500")
    before = card.dump()
    for fen, refusal in (("0", "1 to 100000 fen"), ("-500", "1 to 100000 fen"), ("100001", "1 to 100000 fen")):
        status, result = desk.run("topup", "--fen", fen)
        assert status == 1 and refusal in result["refused"], result
    status, result = desk.run("topup", "--fen", "501")
    assert status == 1 and "would hold 1000001 fen, above 1000000" in result["refused"]
    assert card.dump() == before and count(desk.db, "card_events") == 1
    assert desk.run("topup", "--fen", "500")[0] == 0


def test_a_malformed_amount_is_a_usage_error(desk, capsys):
    issued(desk)
    with pytest.raises(SystemExit) as usage:
        pilectl.main(["card", "topup", "--fen", "ten", "--port", desk.port, "--site-key", str(desk.site_key_file)])
    assert usage.value.code == 2
    assert "invalid int value" in capsys.readouterr().err


def test_no_top_up_for_a_card_still_marked_with_a_session(desk):
    card = issued(desk)
    session_started(desk.site_key, card, "p1", 3, 500, 7)
    before = card.dump()
    status, result = desk.run("topup", "--fen", "100")
    assert status == 1 and "unlock it first" in result["refused"]
    assert card.dump() == before and cards.get(desk.db, UID.hex()).balance_fen == 1000


def test_no_top_up_for_a_monthly_card(desk):
    issued(desk, "--kind", "monthly", "--valid-until", "2030-01-01")
    status, result = desk.run("topup", "--fen", "100")
    assert status == 1 and "not a prepaid card" in result["refused"]


def test_no_top_up_for_a_blocked_card(desk):
    issued(desk)
    card_status.block(desk.db, UID.hex(), OPERATOR)
    status, result = desk.run("topup", "--fen", "100")
    assert status == 1 and "is blocked" in result["refused"]


def test_a_tampered_card_is_refused(desk):
    card = issued(desk)
    desk.chip.present(tampered_card(desk.site_key, card, 99_999))
    status, result = desk.run("topup", "--fen", "100")
    assert status == 1 and "fails its MAC" in result["refused"]
    assert count(desk.db, "card_events") == 1


def test_the_wrong_site_key_is_refused(desk, tmp_path):
    issued(desk)
    other = tmp_path / "other.key"
    other.write_text("11" * 32)
    status, result = desk.run("topup", "--fen", "100", site_key_file=other)
    assert status == 1 and "does not open with this site's key" in result["refused"]
    assert count(desk.db, "card_events") == 1


def test_a_clone_on_a_magic_card_is_refused(desk):
    card = issued(desk)
    desk.chip.present(cloned_card(card.dump()))
    status, result = desk.run("topup", "--fen", "100")
    assert status == 1 and "cloned card" in result["refused"]
    assert count(desk.db, "card_events") == 1


def test_an_old_dump_written_back_onto_the_card_is_refused(desk):
    card = issued(desk)
    old = card.dump()
    assert desk.run("topup", "--fen", "500")[0] == 0
    desk.chip.present(ClassicCard.from_dump(old, magic=False))  # its own keys cracked, the dump restored
    status, result = desk.run("topup", "--fen", "100")
    assert status == 1 and "older record (counter 1) than the desk last saw on it (2)" in result["refused"]
    assert count(desk.db, "card_events") == 2


# A trigger that makes the database refuse every new card event.
REFUSE_EVENTS = {
    "sqlite": (
        "CREATE TRIGGER refuse_events BEFORE INSERT ON card_events BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    ),
    "postgresql": (
        "CREATE FUNCTION refuse_events() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE 'disk full'; END $$",
        "CREATE TRIGGER refuse_events BEFORE INSERT ON card_events FOR EACH ROW EXECUTE FUNCTION refuse_events()",
    ),
}


def test_a_top_up_the_database_fails_to_record_says_what_the_card_holds(desk):
    card = issued(desk)
    with desk.db.transaction():
        for statement in REFUSE_EVENTS[desk.db.dialect]:
            desk.db.execute(statement)
    status, result = desk.run("topup", "--fen", "500")
    assert status == 4 and result["outcome"] == "written, not recorded"
    assert "now holds balance 1500 fen (counter 2)" in result["refused"]
    assert record_of(desk.site_key, card).balance_fen == 1500
    assert cards.get(desk.db, UID.hex()).balance_fen == 1000
    assert count(desk.db, "card_events") == 1


def test_a_reader_that_is_not_there_or_does_not_answer_is_a_refusal(desk, tmp_path):
    status, result = desk.run("read", port=str(tmp_path / "ttyUSB9"))
    assert status == 1 and "cannot open the card reader" in result["refused"]
    master, slave = open_raw_pty()  # a pty nobody serves: the bridge never answers a frame
    try:
        status, result = desk.run("read", port=os.ttyname(slave))
    finally:
        os.close(master)
        os.close(slave)
    assert status == 1 and "answered 0 of 2 bytes" in result["refused"]
