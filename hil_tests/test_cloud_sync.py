"""Cloud sync end to end: the real firmware, a real mosquitto with per-pile accounts, the bridge.

Every test counts orders in the bridge's database against the sessions it ran: each order must
arrive exactly once, whatever happens to the link, the broker, the bridge or the pile's power.
"""

from __future__ import annotations

import pytest

from boards.sim.world.vm import DEFAULT_HEAP
from hil_tests.cloud import Cloud
from hil_tests.test_stop_rules import start_charging
from tools.tls_certs import make_ca_and_server

# A short keepalive and timeouts so a dead link shows within seconds; back-off capped for the same reason.
LINK = {"KEEPALIVE_S": 4, "CLOUD_TIMEOUT_S": 3, "CLOUD_BACKOFF_MAX_S": 4, "TELEMETRY_MIN_S": 1, "TELEMETRY_S": 20}


def pile(make_rig, cloud, name="PILE-A", ca=None, heap=DEFAULT_HEAP, **overrides):
    config = dict(LINK)
    config.update(overrides)
    rig = make_rig(cloud=cloud.account(name, ca), heap=heap, **config)
    rig.wait_until(lambda: any(r.get("state") == "up" for r in rig.records("cloud")), 15, "cloud link up")
    return rig


def end_session(rig, port):
    """The resident takes the bike away; returns the pile's order."""
    rig.unplug(port)
    return rig.wait_order(port, 10)


def assert_same_orders(cloud, rig, name="PILE-A"):
    """The bridge holds exactly the pile's orders, with their money, and no record went missing."""
    db = cloud.bridge_db()
    gaps = db.query("SELECT boot, first_seq, last_seq FROM gaps WHERE pile = ?", (name,))
    db.close()
    assert gaps == []
    stored = {order["order_no"]: order for order in cloud.orders(name)}
    made = {order["no"]: order for order in rig.orders()}
    assert sorted(stored) == sorted(made)
    for number, order in made.items():
        assert (stored[number]["port"], stored[number]["paid_fen"], stored[number]["used_fen"]) == (
            order["port"],
            order["paid"],
            order["used"],
        )


def test_an_order_reaches_the_bridge_once_with_birth_presence_and_telemetry(make_rig, cloud):
    rig = pile(make_rig, cloud)
    start_charging(rig, port=3)
    end_session(rig, 3)
    cloud.wait_orders("PILE-A", 1, 10)
    assert_same_orders(cloud, rig)
    db = cloud.bridge_db()
    assert db.query("SELECT firmware, ports FROM births WHERE pile = ?", ("PILE-A",)) == [("0.4.0", 10)]
    assert [bool(row[0]) for row in db.query("SELECT online FROM presence WHERE pile = ?", ("PILE-A",))] == [True]
    states = [row[0] for row in db.query("SELECT state FROM telemetry WHERE pile = ? AND port = 3", ("PILE-A",))]
    assert 3 in states and 4 in states, (states, rig.records("cloud"), rig.records("alarm"))  # charging, stopped
    db.close()


def test_orders_arrive_once_across_a_broker_restart(make_rig, cloud):
    rig = pile(make_rig, cloud)
    for port in (1, 2, 3):
        start_charging(rig, port=port)
    # Order 1 is held only by the broker (acknowledged to the pile, off its flash) when it restarts.
    cloud.stop_bridge()
    rig.wait_sent(end_session(rig, 1)["no"], 15)
    cloud.broker.end_process()
    end_session(rig, 2)  # made while there is no broker at all
    cloud.broker.start()
    cloud.start_bridge()
    end_session(rig, 3)
    cloud.wait_orders("PILE-A", 3, 30)
    assert_same_orders(cloud, rig)


@pytest.mark.soak
def test_a_link_cut_of_a_minute_in_the_middle_of_sessions(make_rig, cloud):
    rig = pile(make_rig, cloud)
    for port in (4, 5, 6):
        start_charging(rig, port=port)
    end_session(rig, 4)
    cloud.wait_orders("PILE-A", 1, 10)
    rig.link_down()
    end_session(rig, 5)
    rig.hold(60, lambda: rig.relay(6) == 1, "charging goes on without the cloud")
    end_session(rig, 6)
    assert len(cloud.orders("PILE-A")) == 1
    rig.link_up()
    cloud.wait_orders("PILE-A", 3, 30)
    assert_same_orders(cloud, rig)
    db = cloud.bridge_db()
    history = [
        bool(row[0]) for row in db.query("SELECT online FROM presence WHERE pile = ? ORDER BY received_at", ("PILE-A",))
    ]
    db.close()
    assert history[:3] == [True, False, True], history  # the broker's will marked the outage


def test_a_flapping_slow_link(make_rig, cloud):
    rig = pile(make_rig, cloud)
    rig.link_delay(0.15)  # a congested cell: every chunk late, each way
    for port in (1, 2, 3, 4):
        start_charging(rig, port=port)
    for port in (1, 2, 3, 4):
        rig.unplug(port)
        rig.link_flap(down_s=1.5, up_s=2.0, times=2)
        rig.link_reset()  # and a middlebox that resets the connection
    for port in (1, 2, 3, 4):
        rig.wait_order(port, 10)
    cloud.wait_orders("PILE-A", 4, 40)
    assert_same_orders(cloud, rig)


def written(rig) -> bool:
    """True once the pile has logged its ports after its last order: the order's flash writes, which follow
    its log line in the same step of the control path, are over."""
    records = rig.pile.records
    last_order = max(index for index, record in enumerate(records) if record["log"] == "order")
    return any(record["log"] == "ports" for record in records[last_order:])


def test_unsent_orders_survive_a_power_cut(make_rig, cloud):
    rig = pile(make_rig, cloud)
    start_charging(rig, port=7)
    start_charging(rig, port=8)
    rig.link_down()
    end_session(rig, 7)
    end_session(rig, 8)
    rig.wait_until(lambda: written(rig), 5, "the last order on flash")
    rig.power_cut()
    assert sorted(order["port"] for order in rig.stored_orders()) == [7, 8]
    rig.power_restore()
    rig.link_up()
    cloud.wait_orders("PILE-A", 2, 30)
    assert_same_orders(cloud, rig)
    rig.power_cut()
    assert rig.stored_orders() == []  # each left the flash after its PUBACK


def test_a_lost_puback_sends_the_order_again_and_the_bridge_keeps_one(make_rig, cloud):
    # No ping and no telemetry change in the window: the order is the first packet whose answer is lost.
    rig = pile(make_rig, cloud, KEEPALIVE_S=60, TELEMETRY_MIN_S=30)
    start_charging(rig, port=9)
    rig.lose_answers()
    end_session(rig, 9)
    rig.wait_until(lambda: any(r.get("state") == "down" for r in rig.records("cloud")), 15, "PUBACK missed")
    rig.lose_answers(False)
    rig.wait_until(lambda: any(r.get("resend") == "order" for r in rig.records("cloud")), 30, "order sent again")
    cloud.wait_orders("PILE-A", 1, 10)
    rig.hold(2, lambda: len(cloud.orders("PILE-A")) == 1, "one order only")
    assert_same_orders(cloud, rig)


def test_orders_arrive_once_across_a_bridge_restart(make_rig, cloud):
    rig = pile(make_rig, cloud)
    start_charging(rig, port=1)
    start_charging(rig, port=2)
    end_session(rig, 1)
    cloud.wait_orders("PILE-A", 1, 10)
    cloud.stop_bridge()
    rig.wait_sent(end_session(rig, 2)["no"], 15)  # now only the broker has it
    cloud.start_bridge()
    cloud.wait_orders("PILE-A", 2, 20)
    assert_same_orders(cloud, rig)


def test_a_pile_cannot_connect_as_another_pile(make_rig, cloud):
    account = cloud.account("PILE-A")
    account["pile"] = "PILE-B"  # A's password under B's name
    rig = make_rig(cloud=account, **LINK)
    start_charging(rig, port=1)
    end_session(rig, 1)
    rig.wait_until(
        lambda: len([r for r in rig.records("cloud") if r.get("state") in ("down", "unreachable")]) >= 2,
        20,
        "refused twice",
    )
    assert not any(r.get("state") == "up" for r in rig.records("cloud"))
    assert cloud.orders("PILE-B") == [] and cloud.orders("PILE-A") == []


def test_over_tls_with_the_pinned_ca_and_refused_with_another(make_rig, tmp_path):
    cloud = Cloud(tmp_path / "cloud", tls=True)
    try:
        rig = pile(make_rig, cloud, ca=cloud.certs["ca.der"])
        start_charging(rig, port=2)
        end_session(rig, 2)
        cloud.wait_orders("PILE-A", 1, 15)
        assert_same_orders(cloud, rig)
        stranger = make_ca_and_server(tmp_path / "other")  # a CA the broker's certificate is not from
        impostor = make_rig(cloud=cloud.account("PILE-B", ca=stranger["ca.der"]), **LINK)
        impostor.wait_until(lambda: len(impostor.records("cloud")) >= 2, 20, "two refused handshakes")
        assert not any(r.get("state") == "up" for r in impostor.records("cloud"))
    finally:
        cloud.close()


def test_no_cell_no_cloud_and_orders_wait_until_the_modem_registers(make_rig, cloud):
    account = cloud.account("PILE-A")
    account["registration"] = 3  # denied from the start: the modem cannot dial
    rig = make_rig(cloud=account, MODEM_POLL_S=5, **LINK)
    start_charging(rig, port=4)
    end_session(rig, 4)
    rig.hold(6, lambda: not any(r.get("state") == "up" for r in rig.records("cloud")), "no link without a cell")
    assert cloud.orders("PILE-A") == []
    rig.modem_registration(1)
    cloud.wait_orders("PILE-A", 1, 30)
    assert_same_orders(cloud, rig)


def test_a_stuck_modem_is_power_cycled_and_the_link_comes_back(make_rig, cloud):
    rig = pile(make_rig, cloud, MODEM_POLL_S=5)
    start_charging(rig, port=5)
    rig.link_down()  # a stuck modem carries no data either
    rig.modem_hang()
    end_session(rig, 5)
    rig.wait_until(lambda: any(r.get("power_cycles") for r in rig.records("modem")), 60, "modem power-cycled")
    rig.link_up()
    cloud.wait_orders("PILE-A", 1, 40)
    assert_same_orders(cloud, rig)
    assert rig.modem_commands().count("ATD*99#") >= 2  # the call was dialled again after the power cycle


def test_the_pile_takes_its_clock_from_the_network(make_rig, cloud):
    network_s = 1893456000  # 2030-01-01: far from the host's clock, so the change shows
    account = cloud.account("PILE-A")
    account["network_time"] = network_s
    rig = make_rig(cloud=account, **LINK)
    rig.wait_until(lambda: bool(rig.records("clock")), 20, "clock set from the network")
    start_charging(rig, port=6)
    order = end_session(rig, 6)
    assert network_s <= order["start"] <= order["end"] < network_s + 120
    stored = cloud.wait_orders("PILE-A", 1, 20)
    assert stored[0]["start_t"] == order["start"]
