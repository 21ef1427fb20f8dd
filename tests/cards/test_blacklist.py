"""The blacklist: block, unblock and cancel tell every pile by a signed ``cards`` command, committed with the
card's status and event; the whole list goes to a pile on request. Real SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from cloud_bridge import card_queries, card_status, cards, commands
from cloud_bridge.cli import main as cloud_bridge_main
from firmware.card.record import PREPAID, CardRecord
from tests.bridge.helpers import count
from tests.cards.cards_helpers import sent_bodies
from tests.cards.conftest import OPERATOR

UID = "a1b2c3d4"


def issued(db, uid: str = UID, balance_fen: int = 800) -> None:
    cards.issue(db, uid, CardRecord(PREPAID, balance_fen, 1), OPERATOR)


def test_blocking_a_card_tells_every_pile_and_unblocking_it_too(db, piles):
    issued(db)
    sent = card_status.block(db, UID, OPERATOR)
    assert sorted(pile for pile, _ in sent) == sorted(piles)
    assert card_status.blacklist(db) == [UID]
    assert cards.get(db, UID).status == cards.BLOCKED
    card_status.unblock(db, UID, OPERATOR)
    assert card_status.blacklist(db) == []
    assert cards.get(db, UID).status == cards.ACTIVE
    for pile, bodies in sent_bodies(db, piles).items():
        # Arguments take keys 4 (block), 5 (unblock) and 6 (settled), in order, each command with the pile's
        # next id; the pile takes none without all three.
        assert [(body[1], body[4], body[5], body[6]) for body in bodies] == [
            ("cards", [UID], [], []),
            ("cards", [], [UID], []),
        ]
        assert bodies[0][2] - bodies[0][3] == card_status.CARDS_COMMAND_TTL_S
        assert bodies[1][0] == bodies[0][0] + 1, pile
    events = card_queries.events(db, UID)
    assert [(e["kind"], e["fen"], e["operator"]) for e in events[1:]] == [
        (cards.BLOCK, 0, OPERATOR),
        (cards.UNBLOCK, 0, OPERATOR),
    ]


@pytest.mark.parametrize(
    "change, refusal",
    [
        (lambda db: card_status.unblock(db, UID, OPERATOR), "only a blocked card can be unblocked"),
        (lambda db: card_status.block(db, "0badcafe", OPERATOR), "was not issued here"),
    ],
)
def test_a_change_the_status_does_not_allow_is_refused_and_stores_nothing(db, piles, change, refusal):
    issued(db)
    with pytest.raises(cards.CardRefused, match=refusal):
        change(db)
    assert count(db, "commands") == 0
    assert count(db, "card_events") == 1
    assert cards.get(db, UID).status == cards.ACTIVE


def test_blocking_twice_is_refused_and_a_cancelled_card_stays_blocked(db, piles):
    issued(db)
    card_status.block(db, UID, OPERATOR)
    with pytest.raises(cards.CardRefused, match="only an active card can be blocked"):
        card_status.block(db, UID, OPERATOR)
    emptied = CardRecord(PREPAID, 0, 2)
    assert card_status.cancel(db, UID, 800, emptied, OPERATOR) == []  # blocked already: the piles know
    with pytest.raises(cards.CardRefused, match="a cancelled one stays blocked"):
        card_status.unblock(db, UID, OPERATOR)
    assert card_status.blacklist(db) == [UID]
    assert count(db, "commands") == len(piles)


def test_a_cancel_records_the_payout_and_blocks_the_card_everywhere(db, piles):
    issued(db, balance_fen=1250)
    sent = card_status.cancel(db, UID, 1250, CardRecord(PREPAID, 0, 2), OPERATOR)
    assert len(sent) == len(piles)
    card = cards.get(db, UID)
    assert (card.status, card.balance_fen, card.counter) == (cards.CANCELLED, 0, 2)
    refund = card_queries.events(db, UID)[-1]
    assert (refund["kind"], refund["fen"], refund["balance_fen"]) == (cards.REFUND, -1250, 0)
    with pytest.raises(cards.CardRefused, match="cancelled before"):
        card_status.cancel(db, UID, 0, CardRecord(PREPAID, 0, 3), OPERATOR)


def test_the_whole_blacklist_goes_to_a_pile_32_cards_a_command(db, piles):
    uids = ["%08x" % (0xC0000000 + number) for number in range(40)]
    for uid in uids:
        issued(db, uid)
        card_status.block(db, uid, OPERATOR)
    before = count(db, "commands", pile="p1")
    made = card_status.push(db, "p1")
    assert len(made) == 2 and count(db, "commands", pile="p1") == before + 2
    bodies = sent_bodies(db, piles)["p1"][-2:]
    assert [(len(body[4]), body[5], body[6]) for body in bodies] == [(32, [], []), (8, [], [])]
    assert bodies[0][4] + bodies[1][4] == sorted(uids)


def test_a_blacklist_longer_than_a_pile_keeps_is_not_pushed(desk, piles):
    """A pile keeps 500 blocked cards and drops the oldest beyond: a push it cannot hold whole is refused,
    saying so, with nothing sent; 500 go out in full."""
    uids = ["%08x" % (0xD0000000 + number) for number in range(card_status.PILE_BLOCKED_MAX + 1)]
    record = CardRecord(PREPAID, 0, 1)
    for uid in uids:
        cards.issue(desk.db, uid, record, OPERATOR)
    with desk.db.transaction():
        for uid in uids[:-1]:
            cards.set_status_within(desk.db, uid, cards.BLOCKED)
    status, result = desk.run("blacklist", "--push", "p1")
    assert status == 0 and len(result["commands"]) == 16  # 500 = 15 x 32 + 20
    pushed = sum(len(body[4]) for body in sent_bodies(desk.db, piles)["p1"])
    assert pushed == card_status.PILE_BLOCKED_MAX
    before = count(desk.db, "commands")
    card_status.block(desk.db, uids[-1], OPERATOR)  # the 501st: its own block still goes to every pile
    assert count(desk.db, "commands") == before + len(piles)
    status, result = desk.run("blacklist", "--push", "p2")
    assert status == 1
    assert result["refused"] == (
        "the blacklist holds 501 cards, more than the 500 a pile keeps (it drops the oldest beyond that):"
        " nothing sent to p2"
    )
    assert count(desk.db, "commands") == before + len(piles)


@pytest.mark.parametrize(
    "args",
    [
        {"block": ["A1B2C3D4"], "unblock": []},  # upper case is not how UIDs are stored
        {"block": ["a1b2c3"], "unblock": []},
        {"block": [UID, UID], "unblock": []},
        {"block": ["%08x" % n for n in range(33)], "unblock": []},
        {"block": UID, "unblock": []},
        {"block": [3], "unblock": []},
        {"block": []},
        {"block": [], "unblock": []},  # settled is required too, if empty
        {"block": [], "unblock": [], "settled": [[UID, 0]]},
        {"block": [], "unblock": [], "settled": [[UID, True]]},
        {"block": [], "unblock": [], "settled": [[UID, "17"]]},
        {"block": [], "unblock": [], "settled": [["A1B2C3D4", 17]]},
        {"block": [], "unblock": [], "settled": [[UID, 17, 4]]},
        {"block": [], "unblock": [], "settled": [(UID, 17)]},
        {"block": [], "unblock": [], "settled": [UID, 17]},
        {"block": [], "unblock": [], "settled": [[UID, 17], [UID, 17]]},
        {"block": [], "unblock": [], "settled": [[UID, n] for n in range(1, 34)]},
    ],
)
def test_a_malformed_cards_command_is_refused_before_anything_is_signed(db, piles, args):
    with pytest.raises(ValueError):
        commands.create(db, "p1", "cards", args, 60)
    assert count(db, "commands") == 0


def test_the_bridge_command_line_does_not_send_cards_commands_around_the_blacklist(db, capsys):
    with pytest.raises(SystemExit):
        cloud_bridge_main(["command", "cards", "p1", "--db", db.url])
    assert "invalid choice: 'cards'" in capsys.readouterr().err
