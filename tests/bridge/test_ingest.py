"""The bridge against a real mosquitto and a real database (SQLite and PostgreSQL): every message once."""

from __future__ import annotations

import cbor2
import psycopg
import pytest

from cloud_bridge import queries
from cloud_bridge.ingest import Bridge
from cloud_bridge.mosquitto import Mosquitto
from tests.bridge.helpers import count, wait_until
from tests.bridge.piles import Pile, order_body


def committed(bridge, messages: int):
    wait_until(lambda: bridge.committed >= messages, what="%d messages committed" % messages)


def test_every_kind_is_stored_and_a_duplicate_delivery_adds_nothing(start_bridge, pile, db):
    bridge = start_bridge()
    p1 = pile()
    p1.connect_records()
    payloads = [
        ("order", p1.order(17)),
        ("tele", p1.telemetry([[3, 3, 180, 7200], [4, 1, 0, -1]])),
        ("alarm", p1.alarm(detail='tab\there, new\nline, back\\slash, "quotes"')),
        ("meter", p1.record("meter", {3: 1234, 4: 2301, 5: -800, 6: -180})),
        ("ack", p1.record("ack", {3: 9, 4: 0, 5: "", 6: 17})),
        ("order", p1.record("order", {**order_body(18), 16: "pay-42"})),
    ]
    for kind, payload in payloads:  # the same bytes again, as after a lost PUBACK
        p1.publish(kind, payload)
    p1.connect_records()  # a second connection: new birth seq, its own online status
    p1.status(True)  # the retained status once more
    committed(bridge, 17)
    assert db.query("SELECT seq, kind FROM records ORDER BY seq") == [
        (1, "birth"),
        (2, "order"),
        (3, "tele"),
        (4, "alarm"),
        (5, "meter"),
        (6, "ack"),
        (7, "order"),
        (8, "birth"),
    ]
    assert count(db, "births") == 2 and count(db, "orders") == 2
    assert db.query("SELECT energy_wh, voltage_dv, current_ma, power_w FROM meters") == [(1234, 2301, -800, -180)]
    assert [(*row[:3], bytes(row[3])) for row in db.query("SELECT command_id, result, detail, data FROM acks")] == [
        (9, 0, "", b"\x11")
    ]
    assert [(o["order_no"], o["payment_ref"]) for o in bridge.orders("p1")] == [(17, ""), (18, "pay-42")]
    assert db.query("SELECT detail FROM alarms") == [('tab\there, new\nline, back\\slash, "quotes"',)]
    assert db.query("SELECT port, state, power_w, left_s FROM telemetry ORDER BY port") == [
        (3, 3, 180, 7200),
        (4, 1, 0, -1),
    ]
    assert [(p["birth_seq"], p["online"]) for p in queries.presence(db, "p1")] == [(1, True), (8, True)]
    assert queries.gaps(db) == [] and count(db, "rejects") == 0


def test_an_order_resent_after_a_reboot_is_one_order(start_bridge, pile, db):
    bridge = start_bridge()
    p1 = pile()
    p1.connect_records()
    p1.order(17, paid=300)
    p1.reboot()  # its PUBACK was lost: the pile sends it again from the outbox in the next boot
    p1.connect_records(outbox=1)
    p1.order(17, paid=300)
    p1.order(18)
    committed(bridge, 7)
    orders = bridge.orders("p1")
    assert [(o["order_no"], o["boot"], o["seq"], o["paid_fen"]) for o in orders] == [(17, 1, 2, 300), (18, 2, 3, 200)]
    # The record itself is stored, so its seq leaves no gap.
    assert count(db, "records", kind="order") == 3 and queries.gaps(db) == []


def test_gaps_are_recorded_and_closed_by_late_records(start_bridge, pile, db):
    bridge = start_bridge()
    p1 = pile()
    p1.connect_records()  # seq 1
    p1.order(1)  # 2
    p1.skip(5)  # 3..7 lost
    p1.order(8)  # 8
    committed(bridge, 4)

    def gaps():
        return [(g["boot"], g["first_seq"], g["last_seq"]) for g in queries.gaps(db, "p1")]

    assert gaps() == [(1, 3, 7)]
    p1.record("alarm", {3: "smoke", 4: 0, 5: ""}, seq=5)  # late, in the middle: the gap splits
    committed(bridge, 5)
    assert gaps() == [(1, 3, 4), (1, 6, 7)]
    steps = ((3, [(1, 4, 4), (1, 6, 7)]), (7, [(1, 4, 4), (1, 6, 6)]), (6, [(1, 4, 4)]), (4, []))
    for done, (seq, expected) in enumerate(steps, start=6):
        p1.record("tele", {3: []}, seq=seq)
        committed(bridge, done)
        assert gaps() == expected
    p1.reboot()
    p1.skip(2)  # the bridge first hears of boot 2 at seq 3
    p1.order(9)
    committed(bridge, 10)
    assert gaps() == [(2, 1, 2)]
    assert count(db, "records") == 9


def test_the_ledger_is_read_back_after_a_restart(start_bridge, pile, db):
    first = start_bridge()
    p1 = pile()
    p1.connect_records()
    p1.skip(3)
    p1.order(5)
    committed(first, 3)
    first.stop()
    second = start_bridge()
    p1.record("tele", {3: []}, seq=3)  # late: shrinks the gap the first bridge found
    p1.order(5)  # a duplicate of what the first one stored
    committed(second, 2)
    assert [(g["first_seq"], g["last_seq"]) for g in queries.gaps(db)] == [(2, 2), (4, 4)]
    assert count(db, "records") == 4 and count(db, "orders") == 1


def test_presence_history(start_bridge, pile, db):
    bridge = start_bridge()
    p1 = pile()
    p1.connect_records()
    p1.status(False)  # the will: connection (boot 1, birth 1) went offline
    p1.status(False)
    p1.connect_records()
    p1.reboot()
    p1.connect_records()
    committed(bridge, 8)
    history = [(p["boot"], p["birth_seq"], p["online"]) for p in queries.presence(db, "p1")]
    assert history == [(1, 1, True), (1, 1, False), (1, 2, True), (2, 1, True)]
    bridge.stop()
    # Another session subscribes afresh and gets the retained status again: still one row for it.
    other = start_bridge(client_id="cloud-bridge-2")
    committed(other, 1)
    assert [(p["boot"], p["birth_seq"], p["online"]) for p in queries.presence(db, "p1")] == history


def test_malformed_messages_are_rejected_and_the_good_ones_around_them_kept(start_bridge, pile, db):
    bridge = start_bridge()
    p1 = pile()
    p1.order(1)
    p1.publish("order", b"\xff\x00garbage")
    p1.publish("order", cbor2.dumps({0: 1, 1: 2, 2: 0, 3: "two"}))
    p1.publish("tele", cbor2.dumps({0: 1, 1: 2, 2: 0, 3: [[1, 3]]}))
    p1.publish("invoice", cbor2.dumps({0: 1, 1: 2, 2: 0}))
    p1.publish("order", b"\xff\x00garbage")  # the same reject again
    p1.seq = 1
    p1.order(2)
    committed(bridge, 7)
    assert [o["order_no"] for o in bridge.orders("p1")] == [1, 2]
    reasons = sorted(reason for (reason,) in db.query("SELECT reason FROM rejects"))
    assert len(reasons) == 4
    assert any("CBOR" in r for r in reasons) and any("order_no" in r for r in reasons)
    assert any("readings" in r for r in reasons) and any("unknown kind" in r for r in reasons)
    assert queries.gaps(db) == [] and bridge.failure is None


def test_what_is_sent_while_the_bridge_is_away_arrives_when_it_is_back(start_bridge, pile, db):
    start_bridge().stop()  # the broker now keeps the bridge's session
    p1, p2 = pile("p1"), pile("p2", boot=7)
    for number in range(1, 41):
        p1.order(number)
        p2.telemetry([[number % 10 + 1, 3, 100 + number, 60]])
    bridge = start_bridge()
    committed(bridge, 80)
    assert len(bridge.orders("p1")) == 40 and bridge.orders("p2") == []
    assert count(db, "telemetry", pile="p2", boot=7) == 40 and queries.gaps(db) == []


def test_a_lost_database_connection_is_retried(start_bridge, pile, db, db_url, caplog):
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no server connection to lose")
    bridge = start_bridge(batch_max=1)
    p1 = pile()
    p1.order(1)
    committed(bridge, 1)
    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    db.reconnect()  # the test's own connection went the same way
    for number in range(2, 6):
        p1.order(number)
    committed(bridge, 5)
    assert [o["order_no"] for o in bridge.orders("p1")] == [1, 2, 3, 4, 5]
    assert "database unavailable" in caplog.text


def test_the_record_in_flight_at_a_link_loss_comes_after_the_next_birth(start_bridge, pile, db):
    bridge = start_bridge()
    p1 = pile()
    p1.connect_records()  # seq 1
    in_flight = p1.order(7)  # seq 2: stored, but its PUBACK is lost with the link
    p1.status(False)  # the broker publishes the will
    p1.connect_records()  # seq 3, then the record in flight again: same bytes, same seq
    p1.publish("order", in_flight)
    p1.order(8)  # seq 4
    committed(bridge, 8)
    assert [(o["order_no"], o["seq"]) for o in bridge.orders("p1")] == [(7, 2), (8, 4)]
    assert count(db, "records") == 4 and queries.gaps(db) == []
    history = [(p["birth_seq"], p["online"]) for p in queries.presence(db, "p1")]
    assert history == [(1, True), (1, False), (3, True)]


def test_the_bridge_rides_out_a_broker_restart(db):
    with Mosquitto(persistent=True) as broker:
        bridge = Bridge("127.0.0.1", broker.port, db_url=db.url).start()
        p1 = Pile(broker.port)
        try:
            p1.order(1)
            committed(bridge, 1)
            broker.restart()  # both clients reconnect by themselves; the broker kept the bridge's session
            wait_until(p1.client.is_connected, what="the pile back")
            p1.order(2)  # kept for the bridge if it is not back yet
            committed(bridge, 2)
            assert [o["order_no"] for o in bridge.orders("p1")] == [1, 2]
        finally:
            p1.close()
            bridge.stop()
