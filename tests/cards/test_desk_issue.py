"""``pilectl card issue`` and ``read`` against the emulated reader over a real pty and a real database."""

from __future__ import annotations

import pytest

from boards.sim.world.cards import blank_card, cloned_card, issued_card, new_site_key, record_of
from cloud_bridge import card_queries, cards
from firmware.card.record import FREE, MONTHLY, PREPAID, STAFF, CardRecord
from tests.bridge.helpers import count
from tests.cards.conftest import OPERATOR
from tools.card_days import day_number
from tools.card_image import issued_image

UID = bytes.fromhex("a1b2c3d4")


def test_a_blank_card_is_issued_with_its_opening_balance_and_recorded(desk):
    desk.chip.present(blank_card(UID))
    status, result = desk.run("issue", "--kind", "prepaid", "--balance", "2000")
    assert status == 0, result
    record = record_of(desk.site_key, desk.chip.card)
    assert (record.kind, record.balance_fen, record.counter, record.open_session()) == (PREPAID, 2000, 1, False)
    card = cards.get(desk.db, UID.hex())
    assert (card.status, card.balance_fen, card.counter) == (cards.ACTIVE, 2000, 1)
    [event] = card_queries.events(desk.db, UID.hex())
    assert (event["kind"], event["fen"], event["operator"]) == (cards.ISSUE, 2000, OPERATOR)
    status, shown = desk.run("read")
    assert status == 0
    assert shown["uid"] == "a1b2c3d4" and shown["record"]["balance_fen"] == 2000
    assert shown["bridge"]["status"] == cards.ACTIVE


def test_a_monthly_card_carries_its_last_day(desk):
    desk.chip.present(blank_card(UID))
    status, result = desk.run("issue", "--kind", "monthly", "--valid-until", "2026-12-31")
    assert status == 0, result
    record = record_of(desk.site_key, desk.chip.card)
    assert (record.kind, record.valid_until) == (MONTHLY, day_number("2026-12-31"))
    assert result["record"]["valid_until_date"] == "2026-12-31"


@pytest.mark.parametrize("name, kind", [("free", FREE), ("staff", STAFF)])
def test_a_card_is_issued_as_the_kind_named(desk, name, kind):
    desk.chip.present(blank_card(UID))
    assert desk.run("issue", "--kind", name)[0] == 0
    assert record_of(desk.site_key, desk.chip.card).kind == kind == cards.get(desk.db, UID.hex()).kind


def test_a_card_issued_before_is_refused_and_keeps_its_record(desk):
    desk.chip.present(blank_card(UID))
    assert desk.run("issue", "--kind", "prepaid", "--balance", "500")[0] == 0
    status, result = desk.run("issue", "--kind", "free")
    assert status == 1 and "issued before" in result["refused"]
    assert record_of(desk.site_key, desk.chip.card).balance_fen == 500
    assert count(desk.db, "card_events") == 1


def test_a_card_of_another_site_or_a_magic_card_is_not_issued(desk):
    desk.chip.present(issued_card(new_site_key(), UID, CardRecord(PREPAID, 900, 1)))
    status, result = desk.run("issue", "--kind", "prepaid")
    assert status == 1 and "neither the transport key nor this site's key" in result["refused"]
    desk.chip.present(cloned_card(blank_card(UID).dump()))
    status, result = desk.run("issue", "--kind", "prepaid")
    assert status == 1 and "UID be rewritten" in result["refused"]
    assert count(desk.db, "cards") == 0


def test_a_card_pulled_while_being_issued_records_nothing_and_is_issued_again(desk):
    card = blank_card(UID)
    desk.chip.present(card)
    desk.chip.tear_next_write()
    status, result = desk.run("issue", "--kind", "prepaid", "--balance", "300")
    assert status == 1 and "left the reader while being issued" in result["refused"]
    assert count(desk.db, "cards") == 0 and record_of(desk.site_key, card) is None
    desk.chip.present(card)
    assert desk.run("issue", "--kind", "prepaid", "--balance", "300")[0] == 0
    assert record_of(desk.site_key, card).balance_fen == 300


def test_a_card_whose_issuing_stopped_after_its_first_sector_is_issued_again(desk):
    card = blank_card(UID)
    image = issued_image(desk.site_key, UID, CardRecord(PREPAID, 0, 1))
    for number in (8, 9, 10, 11):  # slot 1 and its trailer: sector 2 is under the card's own key now
        card.write(number, image[number])
    desk.chip.present(card)
    status, result = desk.run("issue", "--kind", "prepaid", "--balance", "700")
    assert status == 0, result
    assert record_of(desk.site_key, card).balance_fen == 700


def test_a_card_of_this_site_a_pile_has_written_is_not_issued_again(desk):
    desk.chip.present(issued_card(desk.site_key, UID, CardRecord(PREPAID, 450, 6)))
    status, result = desk.run("issue", "--kind", "prepaid", "--balance", "5000")
    assert status == 1 and "a pile has written (counter 6)" in result["refused"]
    assert record_of(desk.site_key, desk.chip.card).balance_fen == 450
    assert count(desk.db, "cards") == 0


def test_an_issue_the_command_line_gets_wrong_is_refused_before_the_card_is_touched(desk):
    card = blank_card(UID)
    desk.chip.present(card)
    before = card.dump()
    for args, refusal in (
        (("--kind", "free", "--balance", "100"), "only a prepaid card"),
        (("--kind", "monthly"), "needs the last day it is valid"),
        (("--kind", "prepaid", "--balance", "-5"), "opening balance"),
    ):
        status, result = desk.run("issue", *args)
        assert status == 1 and refusal in result["refused"], result
    assert card.dump() == before and count(desk.db, "cards") == 0


def test_read_says_why_a_card_is_refused(desk):
    desk.chip.present(blank_card(UID))
    assert desk.run("issue", "--kind", "prepaid", "--balance", "100")[0] == 0
    status, result = desk.run("read", site_key_file=_other_key_file(desk))
    assert status == 1 and "card a1b2c3d4 does not open with this site's key" in result["refused"]
    desk.chip.present(blank_card(bytes.fromhex("0badcafe")))
    status, result = desk.run("read")
    assert status == 1 and "card 0badcafe does not open with this site's key" in result["refused"]
    desk.chip.remove()
    status, result = desk.run("read", wait_s=0.2)
    assert status == 1 and "no card on the reader" in result["refused"]


def test_a_card_of_this_site_the_bridge_does_not_know_is_read_but_not_served(desk):
    desk.chip.present(issued_card(desk.site_key, UID, CardRecord(FREE, 0, 1)))
    status, result = desk.run("read")
    assert status == 0 and result["bridge"] is None and result["record"]["kind"] == FREE
    status, result = desk.run("topup", "--fen", "100")
    assert status == 1 and "bridge has no card" in result["refused"]


def test_a_malformed_site_key_file_is_refused_without_showing_it(desk, tmp_path):
    desk.chip.present(blank_card(UID))
    bad = tmp_path / "bad.key"
    bad.write_text("not hex at all, and secret\n")
    status, result = desk.run("issue", "--kind", "prepaid", site_key_file=bad)
    assert status == 1 and "not a readable site key file" in result["refused"]
    assert "secret" not in result["refused"]
    short = tmp_path / "short.key"
    short.write_text("00" * 16)
    status, result = desk.run("read", site_key_file=short)
    assert status == 1 and "16 bytes" in result["refused"]
    status, result = desk.run("read", site_key_file=tmp_path / "missing.key")
    assert status == 1 and "missing.key" in result["refused"]


def _other_key_file(desk):
    path = desk.site_key_file.with_name("other.key")
    path.write_text(new_site_key().hex())
    return path
