"""Signed commands end to end: the bridge's command channel, a real mosquitto, the real firmware.

Every refusal is checked twice: in the pile's own log (its reason) and in the answer the bridge stored.
"""

from __future__ import annotations

import json
import time

from cloud_bridge import signing
from hil_tests.test_cloud_sync import pile
from hil_tests.test_stop_rules import start_charging

PILE = "PILE-A"
DOWN = f"pile/{PILE}/down/cmd"


def answers(rig, command_id):
    """The pile's logged answers to ``command_id``."""
    return [r for r in rig.records("command") if r["id"] == command_id]


def stored_answers(cloud, command_id):
    """(result, detail) of the answers the bridge stored for ``command_id``."""
    db = cloud.bridge_db()
    rows = db.query("SELECT result, detail FROM acks WHERE pile = ? AND command_id = ?", (PILE, command_id))
    db.close()
    return rows


def envelope_of(cloud, command_id) -> bytes:
    db = cloud.bridge_db()
    [(envelope,)] = db.query("SELECT envelope FROM commands WHERE pile = ? AND id = ?", (PILE, command_id))
    db.close()
    return bytes(envelope)


def publish(cloud, payload: bytes) -> None:
    """Put ``payload`` on the pile's command topic through the bridge's own connection."""
    assert cloud.bridge.publish(DOWN, payload)


def signed(cloud, command_id, kind, expires, *arguments, key=None) -> bytes:
    """A command signed outside the channel (with the pile's key unless ``key`` is given)."""
    key = key or bytes.fromhex(cloud.site["piles"][PILE]["key"])
    body = signing.body(command_id, kind, expires, int(time.time()), arguments)
    return signing.envelope(key, PILE, body)


def test_a_start_runs_once_a_replay_gets_the_first_answer_and_a_stop_settles_the_refund(make_rig, cloud):
    rig = pile(make_rig, cloud)
    rig.plug(4)
    command_id = cloud.send(PILE, "start", port=4, credit=200, reference="PAY-0001")
    command = cloud.wait_command(PILE, command_id, 10)
    assert (command.state, command.result) == ("done", 0)
    rig.wait_until(lambda: rig.relay(4) == 1 and rig.port_power(4) > 50, 5, "port 4 charging")
    order_no = command.data
    publish(cloud, envelope_of(cloud, command_id))  # the same bytes again, as a replay would be
    rig.wait_until(lambda: len(answers(rig, command_id)) == 2, 10, "the replay answered")
    assert answers(rig, command_id)[1]["result"] == 0
    rig.wait_until(lambda: len(stored_answers(cloud, command_id)) == 2, 10, "both answers in the bridge")
    assert [r["start"] for r in rig.records("remote") if "start" in r] == [4]  # acted on once
    time.sleep(2)
    stop_id = cloud.send(PILE, "stop", port=4)
    assert cloud.wait_command(PILE, stop_id, 10).data == order_no
    order = rig.wait_order(4, 5)
    assert (order["method"], order["ref"], order["reason"], order["paid"]) == ("qr", "PAY-0001", "remote", 200)
    assert order["returned"] == order["paid"] - order["used"] > 0
    [stored] = cloud.wait_orders(PILE, 1, 10)
    assert stored["payment_ref"] == "PAY-0001"


def test_forged_malformed_expired_and_stale_commands_are_refused_with_their_reasons(make_rig, cloud):
    rig = pile(make_rig, cloud)
    rig.plug(2)
    now = int(time.time())
    publish(cloud, signed(cloud, 900, "start", now + 60, 2, 500, "FREE", key=bytes(32)))
    publish(cloud, b"\xa1\x00\x01")  # a CBOR map, not an envelope
    publish(cloud, signed(cloud, 901, "start", now + 60, 2))  # no credit, no reference
    publish(cloud, signed(cloud, 902, "start", now - 5, 2, 500, "LATE"))
    refusals = {900: (1, "MAC does not verify"), 0: (3, "not a [body, mac] envelope"), 902: (2, "expired")}
    rig.wait_until(lambda: all(answers(rig, i) for i in (900, 0, 901, 902)), 10, "every command answered")
    for command_id, (result, detail) in refusals.items():
        [answer] = answers(rig, command_id)
        assert answer["result"] == result and answer["detail"].startswith(detail), answer
    assert answers(rig, 901)[0]["result"] == 3 and "credit" in answers(rig, 901)[0]["detail"]
    rig.wait_until(lambda: stored_answers(cloud, 902), 10, "answers stored by the bridge")
    assert stored_answers(cloud, 900) == [(1, "MAC does not verify")]
    assert rig.relay(2) == 0 and not rig.records("remote")
    # Seventeen authentic queries push the first out of the pile's memory: it is stale from then on.
    first = cloud.send(PILE, "query")
    for _ in range(17):
        last = cloud.send(PILE, "query")
    cloud.wait_command(PILE, last, 15)
    publish(cloud, envelope_of(cloud, first))
    rig.wait_until(lambda: len(answers(rig, first)) == 2, 10, "the stale replay answered")
    assert answers(rig, first)[1]["result"] == 4


def test_a_config_change_is_applied_and_reported_and_a_bad_one_changes_nothing(make_rig, cloud):
    rig = pile(make_rig, cloud)
    config_file = rig.pile.workdir / "config.json"
    start_charging(rig, port=5)
    version, command_id = cloud.channel.configure(PILE, {"PRICE_FEN": 200, "KEEPALIVE_S": 5})
    # Applied by a restart the pile makes once no port is busy: never while port 5 charges.
    rig.hold(4, lambda: rig.pile.resets == 0 and rig.relay(5) == 1, "no restart under a running session")
    rig.unplug(5)
    command = cloud.wait_command(PILE, command_id, 30)
    assert (command.state, command.result, command.data) == ("done", 0, version)
    assert rig.pile.resets == 1
    written = json.loads(config_file.read_text())
    assert written["PRICE_FEN"] == 200 and written["KEEPALIVE_S"] == 5 and written["CONFIG_VERSION"] == version
    rig.wait_until(lambda: births(cloud)[-1:] == [version], 20, "a birth with the new version")
    # 1 yuan now buys UNIT_MIN / 2.
    start_charging(rig, port=6)
    rig.wait_until(lambda: 0 < left(rig, 6) <= 120 * 60, 5, "a session priced at 2 yuan per 4 h")
    rig.unplug(6)
    before = config_file.read_bytes()
    _, bad_id = cloud.channel.configure(PILE, {"PORT_TRIP_W": 10, "TARIFF_MODE": "barter"})
    bad = cloud.wait_command(PILE, bad_id, 30)
    assert (bad.state, bad.result) == ("refused", 6)
    assert "PORT_TRIP_W" in bad.detail and "TARIFF_MODE" in bad.detail
    assert config_file.read_bytes() == before
    assert rig.records("boot")[-1]["boot"] == 3
    assert not rig.records("alarm") or all(a["alarm"] != "safe_mode" for a in rig.records("alarm"))


def left(rig, port):
    return rig.records("ports")[-1]["ports"][port - 1][2]


def births(cloud):
    db = cloud.bridge_db()
    rows = db.query("SELECT config_version FROM births WHERE pile = ? ORDER BY boot, seq", (PILE,))
    db.close()
    return [row[0] for row in rows]


def test_query_time_and_reboot(make_rig, cloud):
    rig = pile(make_rig, cloud)
    start_charging(rig, port=6)
    rig.wait_until(lambda: rig.records("ports")[-1]["ports"][5][0] == "charging", 5, "port 6 charging on the pile")
    query = cloud.wait_command(PILE, cloud.send(PILE, "query"), 10)
    ports = query.data[0]
    assert ports[5][:2] == [6, 3] and query.data[2] == "0.4.0"
    clock = cloud.wait_command(PILE, cloud.send(PILE, "time"), 10)
    assert abs(clock.data - time.time()) < 5
    reboot = cloud.wait_command(PILE, cloud.send(PILE, "reboot"), 10)
    assert reboot.state == "done"
    rig.wait_until(lambda: rig.pile.resets == 1, 10, "the pile restarted")
    rig.wait_until(lambda: rig.relay(6) == 1, 60, "port 6 resumed after the reboot")
    assert rig.records("boot")[-1]["resumed"] == [6]
