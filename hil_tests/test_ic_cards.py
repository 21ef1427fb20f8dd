"""IC cards at the pile (docs/cards.md): the real firmware on the VM, cards on the emulated MFRC522.

Every test checks the card itself afterwards (the record the pile would read
from it), so a balance deducted without a session, or refunded twice, shows.
"""

import json
import time

from boards.sim.world.cards import (
    blank_card,
    cloned_card,
    issued_card,
    new_site_key,
    prepaid_card,
    record_of,
    tampered_card,
)
from boards.sim.world.mfrc522 import Mfrc522
from boards.sim.world.mifare import ClassicCard
from boards.sim.world.spi_link import SpiLink
from firmware.card.record import MONTHLY, CardRecord, day_of
from hil_tests.test_cloud_sync import pile
from hil_tests.test_remote_commands import PILE
from tools import pilectl

UID = bytes.fromhex("a1b2c3d4")
OTHER_UID = bytes.fromhex("b2c3d4e5")
THIRD_UID = bytes.fromhex("c3d4e5f6")
# 1 yuan a minute, so a few seconds of charging use a visible part of the 5 yuan a start holds.
CARD_PRICES = {"PRICE_FEN": 100, "UNIT_MIN": 1, "CARD_HOLD_FEN": 500, "CARD_REPEAT_S": 2}
# Longer than the reader's poll (250 ms): the pile must see the card gone to take it as a new swipe.
CARD_AWAY_S = 0.6


def card_pile(make_rig, **overrides):
    site_key = new_site_key()
    return make_rig(site_key=site_key, **dict(CARD_PRICES, **overrides)), site_key


def shown(rig, text, timeout_s=3):
    rig.wait_until(lambda: any(text in line for line in rig.display()), timeout_s, repr(text))


def lift(rig):
    """The resident takes the card off the reader (long enough for the pile to notice)."""
    rig.remove_card()
    time.sleep(CARD_AWAY_S)


def alarms(rig, kind):
    return [r for r in rig.records("alarm") if r.get("alarm") == kind]


def start_with_card(rig, site_key, card, port=3):
    """Swipe first (the balance is said), then choose the port with the card still on the reader."""
    rig.plug(port, "ebike")
    rig.present_card(card)
    shown(rig, "Card ")
    rig.wait_until(lambda: "card_balance" in rig.said(), 2, "balance said")
    rig.press("%d#" % port)
    rig.wait_until(lambda: rig.relay(port) == 1, 5, "port %d on" % port)
    lift(rig)
    return record_of(site_key, card)


def test_swipe_charge_swipe_puts_the_unused_part_back_on_the_card(make_rig):
    rig, site_key = card_pile(make_rig)
    card = prepaid_card(site_key, UID, 2000)
    rig.wait_until(lambda: rig.display()[0].startswith(".........."), 5, "meter read")
    started = start_with_card(rig, site_key, card)
    rig.wait_until(lambda: rig.spoken() == ["二十元"], 4, "the balance said: 20 yuan")
    assert (started.balance_fen, started.held_fen, started.session_port) == (1500, 500, 3)
    assert started.session_pile != 0 and started.counter == 2
    rig.hold(5, lambda: rig.relay(3) == 1, "charging on the card")
    rig.present_card(card)
    order = rig.wait_order(3, 5)
    assert (order["method"], order["ref"], order["reason"], order["paid"]) == ("card", UID.hex(), "card", 500)
    assert 0 < order["used"] < 500 and order["returned"] == 500 - order["used"]
    rig.wait_until(lambda: record_of(site_key, card).session_pile == 0, 5, "marker cleared")
    settled = record_of(site_key, card)
    assert settled.balance_fen == 2000 - order["used"]
    shown(rig, "Card back")
    assert rig.relay(3) == 0
    # Lying on the reader, the card gets no second round; swiped again later it shows its balance.
    rig.hold(3, lambda: record_of(site_key, card).counter == settled.counter, "no second write")
    lift(rig)
    rig.present_card(card)
    shown(rig, "Card %d.%02dY" % (settled.balance_fen // 100, settled.balance_fen % 100))


def test_a_walk_away_session_is_settled_by_the_pile_and_put_on_the_card_at_the_next_swipe(make_rig):
    rig, site_key = card_pile(make_rig)
    card = prepaid_card(site_key, UID, 2000)
    rig.wait_until(lambda: rig.display()[0].startswith(".........."), 5, "meter read")
    start_with_card(rig, site_key, card)
    rig.hold(3, lambda: rig.relay(3) == 1, "charging")
    rig.unplug(3)
    order = rig.wait_order(3, 10)
    assert order["reason"] == "unplugged" and order["returned"] == 500 - order["used"]
    assert record_of(site_key, card).session_pile != 0  # still grey: the resident walked away
    rig.present_card(card)
    rig.wait_until(lambda: record_of(site_key, card).session_pile == 0, 5, "marker cleared")
    assert record_of(site_key, card).balance_fen == 2000 - order["used"]
    counter = record_of(site_key, card).counter
    lift(rig)
    time.sleep(2.5)
    rig.present_card(card)
    left = 2000 - order["used"]
    shown(rig, "Card %d.%02dY" % (left // 100, left % 100))
    assert record_of(site_key, card).balance_fen == left, "refunded twice"
    assert record_of(site_key, card).counter == counter


def test_forged_replayed_foreign_and_unknown_cards_are_refused_with_nothing_deducted(make_rig):
    rig, site_key = card_pile(make_rig)
    rig.wait_until(lambda: rig.display()[0].startswith(".........."), 5, "meter read")
    genuine = prepaid_card(site_key, UID, 800)
    old_dump = genuine.dump()
    # The genuine card is used once here: the pile remembers its counter.
    start_with_card(rig, site_key, genuine)
    time.sleep(2)  # CARD_REPEAT_S: a swipe right after the start is taken for a hand held too long
    rig.present_card(genuine)
    rig.wait_order(3, 5)
    rig.wait_until(lambda: record_of(site_key, genuine).session_pile == 0, 5, "settled")
    lift(rig)
    cases = [
        (tampered_card(site_key, prepaid_card(site_key, bytes.fromhex("0badcafe"), 100), 99999), "Card refused"),
        (cloned_card(old_dump), "Card refused"),
        (prepaid_card(new_site_key(), bytes.fromhex("12345678"), 5000), "Unknown card"),
    ]
    for number, (card, text) in enumerate(cases, start=1):
        before = card.dump()
        rig.press("5#")
        rig.present_card(card)
        # The alarm, not the display alone: the last case's prompt may still be on it.
        rig.wait_until(lambda number=number: len(alarms(rig, "card_refused")) == number, 5, "alarm %d" % number)
        shown(rig, text)
        lift(rig)
        assert card.dump() == before, text
    details = [a["detail"] for a in alarms(rig, "card_refused")]
    assert details == ["forged", "replay", "key"]
    assert rig.relay(5) == 0 and not [o for o in rig.orders() if o["port"] == 5]


def test_a_card_pulled_in_the_middle_of_a_write_loses_nothing_and_pays_once(make_rig):
    rig, site_key = card_pile(make_rig)
    card = prepaid_card(site_key, UID, 2000)
    rig.wait_until(lambda: rig.display()[0].startswith(".........."), 5, "meter read")
    rig.plug(3, "ebike")
    rig.press("3#")
    shown(rig, "P3: coins or card")
    # Pulled while the start's second block is written: no session, the old record still reads.
    rig.tear_card_write(after_writes=1)
    rig.present_card(card)
    shown(rig, "P3: swipe card")
    lift(rig)
    assert record_of(site_key, card).balance_fen == 2000 and rig.relay(3) == 0
    rig.press("3#")
    rig.present_card(card)
    rig.wait_until(lambda: rig.relay(3) == 1, 5, "port 3 on")
    lift(rig)
    assert record_of(site_key, card).balance_fen == 1500
    rig.hold(3, lambda: rig.relay(3) == 1, "charging")
    # Pulled while the refund is written: the pile still owes it, and pays it at the next swipe, once.
    rig.tear_card_write(after_writes=2)
    rig.present_card(card)
    order = rig.wait_order(3, 5)
    rig.wait_until(lambda: not rig.pile.card_reader.card, 5, "card torn off the reader")
    assert record_of(site_key, card).balance_fen == 1500 and record_of(site_key, card).session_pile != 0
    time.sleep(2.5)
    rig.present_card(card)
    rig.wait_until(lambda: record_of(site_key, card).session_pile == 0, 5, "refund written")
    assert record_of(site_key, card).balance_fen == 2000 - order["used"]
    assert len([o for o in rig.orders() if o["port"] == 3]) == 1


def test_monthly_cards_are_held_to_their_validity_and_daily_cap(make_rig):
    rig, site_key = card_pile(make_rig, CARD_DAY_MAX=2)
    rig.wait_until(lambda: rig.display()[0].startswith(".........."), 5, "meter read")
    today = day_of(int(time.time()))
    expired = issued_card(site_key, bytes.fromhex("01020304"), CardRecord(MONTHLY, 0, 1, today - 1))
    capped = issued_card(site_key, bytes.fromhex("01020305"), CardRecord(MONTHLY, 0, 1, today + 30, today, 2))
    valid = issued_card(site_key, bytes.fromhex("01020306"), CardRecord(MONTHLY, 0, 1, today + 30, today - 1, 2))
    for card, text in ((expired, "Card expired"), (capped, "today's limit")):
        rig.press("4#")
        rig.present_card(card)
        shown(rig, text)
        lift(rig)
    assert rig.relay(4) == 0
    rig.plug(4, "ebike")
    rig.press("4#")
    rig.present_card(valid)
    rig.wait_until(lambda: rig.relay(4) == 1, 5, "a monthly card's free session")
    lift(rig)
    record = record_of(site_key, valid)
    assert (record.last_day, record.day_sessions, record.held_fen) == (today, 1, 0)
    time.sleep(2.5)
    rig.present_card(valid)
    order = rig.wait_order(4, 5)
    assert (order["method"], order["paid"], order["ref"]) == ("pass", 0, "01020306")
    rig.wait_until(lambda: record_of(site_key, valid).session_pile == 0, 5, "marker cleared")


def test_a_power_cut_during_a_card_session_settles_correctly_after_resume(make_rig):
    rig, site_key = card_pile(make_rig, CHECKPOINT_S=5)
    card = prepaid_card(site_key, UID, 2000)
    rig.wait_until(lambda: rig.display()[0].startswith(".........."), 5, "meter read")
    start_with_card(rig, site_key, card)
    rig.hold(7, lambda: rig.relay(3) == 1, "charging past a checkpoint")
    rig.power_cut()
    rig.power_restore()
    rig.wait_until(lambda: rig.relay(3) == 1, 10, "port 3 resumed")
    assert rig.records("boot")[-1]["resumed"] == [3]
    rig.hold(2, lambda: rig.relay(3) == 1, "charging after the cut")
    rig.present_card(card)
    order = rig.wait_order(3, 5)
    assert order["method"] == "card" and order["paid"] == 500 and 0 < order["used"] < 500
    rig.wait_until(lambda: record_of(site_key, card).session_pile == 0, 5, "settled on the card")
    assert record_of(site_key, card).balance_fen == 2000 - order["used"]
    assert [o["no"] for o in rig.orders()].count(order["no"]) == 1


def test_a_card_the_cloud_blacklists_is_refused_and_taken_off_the_list_works_again(make_rig, cloud):
    site_key = new_site_key()
    rig = pile(make_rig, cloud, site_key=site_key, **CARD_PRICES)
    card = prepaid_card(site_key, UID, 2000)
    before = card.dump()
    block_id = cloud.send(PILE, "cards", block=[UID.hex()], unblock=[], settled=[])
    command = cloud.wait_command(PILE, block_id, 10)
    assert (command.state, command.data) == ("done", [1, []])
    rig.press("2#")
    rig.present_card(card)
    shown(rig, "Card blocked")
    lift(rig)
    assert card.dump() == before and rig.relay(2) == 0
    rig.wait_until(lambda: [a["detail"] for a in alarms(rig, "card_refused")] == ["blocked"], 3, "alarm")
    unblock_id = cloud.send(PILE, "cards", block=[], unblock=[UID.hex()], settled=[])
    assert cloud.wait_command(PILE, unblock_id, 10).data == [0, []]
    rig.present_card(card)  # port 2 is still chosen: the card now pays for it
    shown(rig, "P2: charging")
    assert record_of(site_key, card).balance_fen == 1500


def test_a_walk_away_refund_is_paid_once_whether_the_desk_or_the_pile_pays_it(make_rig, cloud, tmp_path, capsys):
    """The desk asks the pile before it writes a card (docs/card-desk.md): a grey card's dump is paid
    neither at the pile after the desk's unlock, nor at the desk after the pile's refund, nor at the desk
    while the pile's refund write is in doubt."""
    site_key = new_site_key()
    key_file = tmp_path / "site.key"
    key_file.write_text(site_key.hex())
    desk_chip = Mfrc522()
    desk_link = SpiLink(desk_chip)
    desk_link.start()

    def desk(command, *args):
        options = ["--db", cloud.db_url, "--operator", "desk", "--port", desk_link.device_path]
        status = pilectl.main(["card", command, *args, *options, "--site-key", str(key_file), "--wait", "2"])
        return status, json.loads(capsys.readouterr().out)

    def walk_away(card, port):
        """Start ``port`` with ``card``, charge a little, unplug: the pile settles; the grey card's dump."""
        start_with_card(rig, site_key, card, port)
        dump = card.dump()
        rig.hold(3, lambda: rig.relay(port) == 1, "charging")
        rig.unplug(port)
        return rig.wait_order(port, 10), dump

    try:
        cards = {}
        for uid in (UID, OTHER_UID, THIRD_UID):
            cards[uid] = blank_card(uid)
            desk_chip.present(cards[uid])
            assert desk("issue", "--kind", "prepaid", "--balance", "2000")[0] == 0
            desk_chip.remove()
        rig = pile(make_rig, cloud, site_key=site_key, **CARD_PRICES)
        rig.wait_until(lambda: rig.display()[0].startswith(".........."), 5, "meter read")
        card = cards[UID]
        order, grey_dump = walk_away(card, 3)
        cloud.wait_orders(PILE, 1, 10)
        # Desk first: the resident takes the grey card to the desk instead of back to the pile.
        desk_chip.present(card)
        status, unlocked = desk("unlock")
        assert status == 0, unlocked
        assert (unlocked["returned_fen"], unlocked["pile_released"]) == (order["returned"], True)
        assert record_of(site_key, card).balance_fen == 2000 - order["used"]
        desk_chip.remove()
        # The pile answered before the card was written: the grey copy is the desk's business, not its money.
        rig.present_card(cloned_card(grey_dump))
        shown(rig, "Card in use: desk")
        lift(rig)
        rig.present_card(card)
        shown(rig, "Card %d.%02dY" % ((2000 - order["used"]) // 100, (2000 - order["used"]) % 100))
        lift(rig)
        assert record_of(site_key, card).balance_fen == 2000 - order["used"]
        # Pile first: the other resident comes back to the pile, then brings a copy of the grey card to the desk.
        other = cards[OTHER_UID]
        order, grey_dump = walk_away(other, 4)
        cloud.wait_orders(PILE, 2, 10)
        rig.present_card(other)
        shown(rig, "Card back")  # read back and kept: the pile knows the card's new counter
        assert record_of(site_key, other).session_pile == 0
        lift(rig)
        # Its keys cracked (Crypto1), the card itself gets its grey dump back: a magic card, the desk refuses.
        copy = ClassicCard.from_dump(grey_dump, magic=False)
        desk_chip.present(copy)
        status, refused = desk("unlock")
        assert status == 1 and "put this refund on the card itself" in refused["refused"], refused
        assert copy.dump() == grey_dump
        assert record_of(site_key, other).balance_fen == 2000 - order["used"]
        desk_chip.remove()
        # The pile was writing the refund when the card left its reader (torn): the desk hears the counter
        # the card may hold and refuses; the card gets its refund at the pile.
        third = cards[THIRD_UID]
        order, _ = walk_away(third, 5)
        cloud.wait_orders(PILE, 3, 10)
        rig.tear_card_write(after_writes=2)
        rig.present_card(third)
        rig.wait_until(lambda: not rig.pile.card_reader.card, 5, "card torn off the reader")
        assert record_of(site_key, third).session_pile != 0
        desk_chip.present(third)
        status, refused = desk("unlock")
        assert status == 1 and "was writing it when the card left its reader" in refused["refused"], refused
        assert record_of(site_key, third).session_pile != 0
        desk_chip.remove()
        rig.present_card(third)
        shown(rig, "Card back")
        assert record_of(site_key, third).balance_fen == 2000 - order["used"]
    finally:
        desk_link.close()
