"""The command channel against a real mosquitto, a real database (SQLite and PostgreSQL) and a pile that
checks every MAC itself (tests/bridge/command_pile.py)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

import cbor2
import pytest

from cloud_bridge import commands, config_shadow, pile_keys, signing
from cloud_bridge.channel import CommandChannel
from tests.bridge.command_pile import CommandPile
from tests.bridge.helpers import count, wait_until
from tests.bridge.piles import T0

GRACE_S = 0.5


def test_the_signature_is_hmac_sha256_of_the_pile_id_and_the_body_cut_to_16_bytes():
    key = secrets.token_bytes(32)
    body = signing.body(7, "start", 1_760_000_060, 1_760_000_000, (3, 200, "pay-42"))
    assert cbor2.loads(body) == {0: 7, 1: "start", 2: 1_760_000_060, 3: 1_760_000_000, 4: 3, 5: 200, 6: "pay-42"}
    envelope = cbor2.loads(signing.envelope(key, "p1", body))
    assert envelope == [body, hmac.new(key, b"p1\n" + body, hashlib.sha256).digest()[:16]]
    assert signing.mac(key, "p2", body) != envelope[1]  # the pile id is in what is signed


@pytest.fixture
def key(db):
    """p1's key, known to the bridge."""
    key = secrets.token_bytes(32)
    pile_keys.add(db, "p1", key.hex())
    return key


@pytest.fixture
def channel(start_bridge):
    """A bridge with a command channel (short grace); ``channel.outcomes`` lists every outcome fired."""
    bridge = start_bridge()
    channel = CommandChannel(bridge, grace_s=GRACE_S, sweep_s=0.05)
    channel.outcomes = []
    channel.on_outcome(lambda *outcome: channel.outcomes.append(outcome))
    channel.start()
    yield channel
    channel.stop()


@pytest.fixture
def command_pile(broker, key):
    piles = []

    def connect(boot: int = 1) -> CommandPile:
        piles.append(CommandPile(broker.port, "p1", key, boot))
        return piles[-1]

    yield connect
    for pile in piles:
        pile.close()


def outcomes(channel, number: int) -> list[tuple]:
    wait_until(lambda: len(channel.outcomes) >= number, what="%d outcomes" % number)
    return channel.outcomes


def test_a_command_is_done_once_and_a_replayed_answer_changes_nothing(channel, command_pile, db):
    pile = command_pile()
    first = channel.send("p1", "start", {"port": 3, "credit": 200, "reference": "pay-42"}, ttl_s=60)
    second = channel.send("p1", "stop", {"port": 3}, ttl_s=60)
    assert (first, second) == (1, 2)
    assert outcomes(channel, 2) == [("p1", 1, "start", "done", 0, "", 101), ("p1", 2, "stop", "done", 0, "", 102)]
    issued = pile.received[0][3]
    assert pile.received == [
        {0: 1, 1: "start", 2: issued + 60, 3: issued, 4: 3, 5: 200, 6: "pay-42"},
        {0: 2, 1: "stop", 2: pile.received[1][3] + 60, 3: pile.received[1][3], 4: 3},
    ]
    pile.answer_again(1)  # the pile answers a replay with its first answer, in a new record
    pile.connect_records()  # a birth: nothing is pending, so nothing is sent again
    wait_until(lambda: count(db, "acks") == 3, what="the replayed answer stored")
    command = channel.status("p1", 1)
    assert (command.state, command.result, command.data, command.sent) == ("done", 0, 101, 1)
    assert len(pile.wait_received(2)) == 2
    assert len(channel.outcomes) == 2


def test_refusals_and_the_piles_expiry_are_outcomes(channel, command_pile):
    pile = command_pile()
    pile.refuse["stop"] = (5, "port idle")
    channel.send("p1", "stop", {"port": 4})
    channel.send("p1", "query", {})
    assert outcomes(channel, 2)[0] == ("p1", 1, "stop", "refused", 5, "port idle", None)
    assert channel.outcomes[1] == ("p1", 2, "query", "done", 0, "", {0: [[1, 0, 0, -1]], 1: 0, 2: "1.5.0", 3: 0})
    assert channel.status("p1", 1).result_name == "refused"
    pile.clock_ahead_s = 3600  # to the pile, every command has expired; time is exempt, as it fixes that
    channel.send("p1", "query", {}, ttl_s=60)
    channel.send("p1", "time", {}, ttl_s=60)
    assert outcomes(channel, 4)[2:] == [
        ("p1", 3, "query", "expired", 2, "expired", None),
        ("p1", 4, "time", "done", 0, "", T0),
    ]


def test_an_unanswered_command_expires_after_the_grace_and_a_late_answer_is_an_anomaly(channel, command_pile, caplog):
    pile = command_pile()
    pile.answering = False
    # Two seconds, not one: a slow commit must not deliver the command after its expiry (the pile would
    # then remember "expired" instead of the "done" this test answers late).
    channel.send("p1", "reboot", {}, ttl_s=2)
    pile.wait_received(1)
    assert outcomes(channel, 1) == [("p1", 1, "reboot", "expired", None, "never acked", None)]
    caplog.set_level(logging.WARNING, logger="cloud_bridge.channel")
    pile.answer_again(1)
    wait_until(lambda: "anomaly" in caplog.text, what="the late answer logged")
    command = channel.status("p1", 1)
    assert (command.state, command.result) == ("expired", 0)
    assert len(channel.outcomes) == 1


def test_a_birth_sends_pending_commands_again_with_the_same_bytes(channel, command_pile):
    pile = command_pile()
    pile.answering = False
    channel.send("p1", "time", {}, ttl_s=60)
    pile.wait_received(1)
    pile.answering = True
    pile.connect_records()
    assert outcomes(channel, 1)[0][:5] == ("p1", 1, "time", "done", 0)
    assert pile.envelopes[0] == pile.envelopes[1] and len(pile.received) == 2
    assert channel.status("p1", 1).sent == 2


def test_config_is_sent_as_a_difference_and_the_shadow_follows_the_pile(channel, command_pile, db):
    pile = command_pile()
    version, command_id = channel.configure("p1", {"PRICE_FEN": 120, "UNIT_MIN": 200})
    assert (version, command_id) == (1, 1)
    assert outcomes(channel, 1) == [("p1", 1, "config", "done", 0, "", 1)]
    assert pile.config == {"PRICE_FEN": 120, "UNIT_MIN": 200}  # version 0: every desired setting
    wait_until(lambda: config_shadow.applied(db, "p1") == 1, what="the applied version from the answer")
    # A change made while the pile is away reaches it at its next birth, as only what it lacks.
    assert config_shadow.set_desired(db, "p1", {"PRICE_FEN": 150, "FREE_MODE": True}, 0.0) == 2
    pile.connect_records(config_version=1)
    assert outcomes(channel, 2)[1] == ("p1", 2, "config", "done", 0, "", 2)
    assert (pile.received[-1][4], pile.received[-1][5]) == (2, {"PRICE_FEN": 150, "FREE_MODE": True})
    wait_until(lambda: config_shadow.applied(db, "p1") == 2, what="version 2 applied")
    # A pile reset to version 0 gets everything again.
    pile.reboot()
    pile.connect_records(config_version=0)
    assert outcomes(channel, 3)[2][:4] == ("p1", 3, "config", "done")
    assert pile.received[-1][5] == {"PRICE_FEN": 150, "UNIT_MIN": 200, "FREE_MODE": True}


def test_a_refused_config_is_not_sent_again_at_every_birth(channel, command_pile, db):
    pile = command_pile()
    pile.refuse["config"] = (6, "PRICE_FEN out of range")
    channel.configure("p1", {"PRICE_FEN": 0})
    assert outcomes(channel, 1)[0][3:6] == ("refused", 6, "PRICE_FEN out of range")
    pile.connect_records(config_version=0)
    wait_until(lambda: config_shadow.applied(db, "p1") == 0 and count(db, "births") == 1, what="the birth")
    pile.alarm()  # a marker: by the time it is stored, the birth has been handled
    wait_until(lambda: count(db, "alarms") == 1, what="the marker")
    assert count(db, "commands") == 1


def test_unknown_piles_bad_arguments_and_strange_answers_are_refused_or_logged(channel, command_pile, db, caplog):
    with pytest.raises(pile_keys.UnknownPile):
        channel.send("p9", "reboot", {})
    for kind, args in [
        ("start", {"port": 3, "credit": 0, "reference": "x"}),
        ("stop", {}),
        ("fly", {}),
        ("config", {}),
    ]:
        with pytest.raises(ValueError):
            channel.send("p1", kind, args)
    caplog.set_level(logging.WARNING, logger="cloud_bridge.channel")
    pile = command_pile()
    pile.record("ack", {3: 0, 4: 3, 5: "not a command envelope"})
    pile.record("ack", {3: 77, 4: 0, 5: ""})
    pile.record("ack", {3: "x", 4: 0, 5: ""})  # malformed: a reject
    wait_until(lambda: "never made" in caplog.text and "could not read" in caplog.text, what="the warnings")
    assert count(db, "acks") == 2 and count(db, "rejects") == 1 and count(db, "commands") == 0


def test_an_outcome_decided_without_a_channel_is_handed_over_at_the_next_start(start_bridge, key, db):
    command, _ = commands.create(db, "p1", "reboot", {}, ttl_s=1, now=1000.0)
    assert commands.expire_overdue(db, 2000.0, GRACE_S) == [commands.get(db, "p1", command.id)]
    bridge = start_bridge()
    channel = CommandChannel(bridge, sweep_s=0.05)
    seen = []
    channel.on_outcome(lambda *outcome: seen.append(outcome))
    channel.start()
    try:
        wait_until(lambda: seen == [("p1", 1, "reboot", "expired", None, "never acked", None)], what="the outcome")
    finally:
        channel.stop()
    assert commands.unreported(db) == []
