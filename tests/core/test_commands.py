"""Signed commands: the envelope, the MAC, field checks and the ledger that makes each id single-use.

Runs on CPython and on the MicroPython VM. Commands are built here from the
protocol document's rules with this module's own encoder; the bridge's signer
is checked against the same MAC in tests/bridge.
"""

import json

from firmware import cbor
from firmware.cloud.commands import (
    DONE,
    EXPIRED,
    FORGED,
    LEDGER_SIZE,
    MALFORMED,
    REFUSED,
    STALE,
    UNKNOWN,
    Ledger,
    admit,
    command_mac,
    open_envelope,
)

KEY = bytes(range(32))
PILE = "PILE-0042"
NOW_S = 1700000000


def body(command_id=7, kind="start", expires=NOW_S + 60, **args):
    command = {0: command_id, 1: kind, 2: expires, 3: NOW_S - 1}
    if kind == "start":
        command.update({4: 3, 5: 200, 6: "PAY-1"})
    command.update({int(k[1:]): v for k, v in args.items()})
    return cbor.encode(command)


def envelope(raw, key=KEY, pile=PILE):
    return cbor.encode([raw, command_mac(key, pile, raw)])


def test_an_authentic_command_opens():
    command, refusal = open_envelope(envelope(body()), KEY, PILE)
    assert refusal is None
    assert command[0] == 7 and command[1] == "start" and command[6] == "PAY-1"


def test_a_wrong_key_another_pile_or_a_changed_byte_is_forged():
    raw = body()
    assert open_envelope(envelope(raw, key=bytes(32)), KEY, PILE)[1] == (7, FORGED, "MAC does not verify")
    assert open_envelope(envelope(raw, pile="PILE-0043"), KEY, PILE)[1][1] == FORGED
    mac = command_mac(KEY, PILE, raw)
    tampered = bytearray(raw)
    tampered[-1] ^= 1  # the payment reference's last letter
    assert open_envelope(cbor.encode([bytes(tampered), mac]), KEY, PILE)[1][1] == FORGED
    assert open_envelope(cbor.encode([raw, mac[:-1]]), KEY, PILE)[1][1] == FORGED


def test_malformed_envelopes_and_bodies_are_refused_with_reasons():
    for payload in (b"", b"\xff\x00", cbor.encode({0: 1}), cbor.encode([b"x"]), cbor.encode(["a", b"b"])):
        command, refusal = open_envelope(payload, KEY, PILE)
        assert command is None and refusal[1] == MALFORMED, payload
    bad_bodies = (
        cbor.encode([1, 2]),
        body(command_id=0),
        body(kind=5),
        body(expires=-1),
        body(a4=0, a5=0),
        body(a6=""),
        body(a6="x" * 33),
        body(kind="stop", a4="3"),
        body(kind="config", a4=2),
    )
    for raw in bad_bodies:
        command, refusal = open_envelope(envelope(raw), KEY, PILE)
        assert command is None and refusal[1] == MALFORMED, (raw, refusal)


def test_a_replay_gets_the_first_answer_and_is_not_admitted():
    ledger = Ledger()
    command, _ = open_envelope(envelope(body()), KEY, PILE)
    assert admit(command, ledger, NOW_S) is None
    ledger.remember(7, REFUSED, "port busy")
    assert admit(command, ledger, NOW_S) == (REFUSED, "port busy")
    # Even after its expiry the replay is answered as the first time, not as expired.
    assert admit(command, ledger, NOW_S + 3600) == (REFUSED, "port busy")


def test_expired_commands_are_refused_except_time():
    ledger = Ledger()
    command, _ = open_envelope(envelope(body(expires=NOW_S)), KEY, PILE)
    assert admit(command, ledger, NOW_S)[0] == EXPIRED
    timing, _ = open_envelope(envelope(body(kind="time", expires=NOW_S - 600)), KEY, PILE)
    assert admit(timing, ledger, NOW_S) is None


def test_unknown_kinds_are_answered_unknown():
    command, _ = open_envelope(envelope(body(kind="selfdestruct")), KEY, PILE)
    assert admit(command, Ledger(), NOW_S)[0] == UNKNOWN


def test_ids_older_than_the_ledger_are_stale_and_the_ledger_survives_json():
    ledger = Ledger()
    for command_id in range(1, LEDGER_SIZE + 3):
        ledger.remember(command_id, DONE, "")
    assert ledger.floor == 3 and len(ledger.answers) == LEDGER_SIZE
    old, _ = open_envelope(envelope(body(command_id=2)), KEY, PILE)
    assert admit(old, ledger, NOW_S)[0] == STALE
    again = Ledger(json.loads(json.dumps(ledger.record())))
    assert again.floor == 3 and again.answer(LEDGER_SIZE + 2) == [LEDGER_SIZE + 2, DONE, ""]
    assert admit(old, again, NOW_S)[0] == STALE


def test_a_ledger_record_that_is_not_ours_starts_empty():
    for record in (None, [], {"floor": "x", "answers": []}, {"floor": 1, "answers": 5}):
        ledger = Ledger(record)
        assert ledger.floor == 0 and ledger.answers == []


def test_a_cards_command_carries_uid_lists_and_settled_pairs():
    good = body(kind="cards", a4=["a1b2c3d4"], a5=[], a6=[["0badcafe", 12]])
    command, refusal = open_envelope(envelope(good), KEY, PILE)
    assert refusal is None and command[4] == ["a1b2c3d4"] and command[6] == [["0badcafe", 12]]
    bad_bodies = (
        body(kind="cards", a4=["a1b2c3d4"], a5=[]),
        body(kind="cards", a4=["A1B2C3D4"], a5=[], a6=[]),
        body(kind="cards", a4=["a1b2c3d"], a5=[], a6=[]),
        body(kind="cards", a4=["a1b2c3d4"] * 33, a5=[], a6=[]),
        body(kind="cards", a4=[], a5="a1b2c3d4", a6=[]),
        body(kind="cards", a4=[], a5=[], a6=[["a1b2c3d4"]]),
        body(kind="cards", a4=[], a5=[], a6=[["a1b2c3d4", -1]]),
        body(kind="cards", a4=[], a5=[], a6=[[12, "a1b2c3d4"]]),
    )
    for raw in bad_bodies:
        command, refusal = open_envelope(envelope(raw), KEY, PILE)
        assert command is None and refusal[1] == MALFORMED, (raw, refusal)
