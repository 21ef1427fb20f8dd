"""Ingest throughput: the bridge into SQLite and PostgreSQL next to a bare paho subscriber, in one run.

One mosquitto of its own. Every consumer (the bare subscriber, the bridge on SQLite, the bridge on
PostgreSQL) has its persistent session subscribed before anything is published, so the broker queues
the same messages for each; then each in turn connects and drains its queue. A consumer's rate is its
messages over the time from the first message received to the last one counted (bare) or committed
(bridge), so the figures are what a consumer can take, not how fast the publishers were or how long a
start takes. This is done for several rounds, each with new messages (a new boot of every pile), and
the median of each consumer is reported; ``ratio`` is the bridge's median over the bare subscriber's.

The bare subscriber has the bridge's client settings (persistent session, QoS 1) and paho's automatic
acknowledgement, which sends each PUBACK as soon as ``on_message`` returns: the fastest a paho
subscriber acknowledges. The broker allows ``WINDOW`` unacknowledged messages in flight and queues any
number, for all of them alike.

The messages are realistic: piles of 10 ports sending their birth and status, then telemetry (one to
three ports changed, every port now and then) with an order about every fifth record, published at
QoS 1 by several publisher threads, each pile's records in order from one of them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import cbor2
import paho.mqtt.client as paho
import psycopg

from cloud_bridge.db import Database, shown
from cloud_bridge.ingest import TOPIC, Bridge
from cloud_bridge.mosquitto import Mosquitto

WINDOW = 1000
T0 = 1_760_000_000
POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def pile_messages(pile: str, boot: int, count: int, rng: random.Random) -> list[tuple[str, bytes]]:
    """``count`` messages of one boot of a pile in the order it sends them: birth, status, telemetry and
    orders (numbered on from the boot's thousands, so every boot's are new)."""
    messages = [("birth", {3: "1.4.0", 4: 7, 5: 10, 6: 0}), ("status", {3: True})]
    order_no = boot * 1000
    while len(messages) < count:
        if rng.random() < 0.2:
            order_no += 1
            paid = rng.choice([100, 200, 300, 500])
            used = rng.randrange(paid + 1)
            start = T0 + rng.randrange(86400)
            body = {3: order_no, 4: rng.randrange(1, 11), 5: "coin", 6: start, 7: start + rng.randrange(60, 36000)}
            body.update({8: rng.randrange(2000), 9: rng.randrange(36000), 10: paid, 11: used, 12: paid - used})
            body.update({13: -1, 14: 1, 15: rng.choice(["full", "unplugged", "credit", "keypad"])})
            messages.append(("order", body))
        else:
            ports = range(1, 11) if rng.random() < 0.1 else rng.sample(range(1, 11), rng.randrange(1, 4))
            left = [-1, rng.randrange(36000)]
            readings = [[port, rng.randrange(5), rng.randrange(400), rng.choice(left)] for port in ports]
            messages.append(("tele", {3: readings}))
    payloads = []
    seq = 0
    for kind, body in messages:
        if kind != "status":  # a status carries its birth's seq
            seq += 1
        payloads.append(("pile/%s/up/%s" % (pile, kind), cbor2.dumps({0: boot, 1: seq, 2: T0 + seq, **body})))
    return payloads


def publish(port: int, piles: list[list[tuple[str, bytes]]]) -> None:
    """Publish the piles' messages at QoS 1 on one connection, each pile in order; wait for every PUBACK."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-pub-%s" % uuid.uuid4().hex[:8])
    client.max_inflight_messages_set(WINDOW)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(topic, payload, qos=1) for messages in piles for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()


def bare_subscriber(port: int, client_id: str, expected: int | None) -> float:
    """Drain the session ``client_id`` (only subscribe it when ``expected`` is None); messages/s."""
    done = threading.Event()
    received = 0
    first = 0.0

    def on_message(_client, _userdata, _message) -> None:
        nonlocal received, first
        received += 1
        if received == 1:
            first = time.time()
        if received == expected:
            done.set()

    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.on_message = on_message
    client.on_subscribe = lambda *_: done.set()
    client.connect("127.0.0.1", port)
    if expected is None:
        client.subscribe(TOPIC, qos=1)
    client.loop_start()
    if not done.wait(120):
        raise RuntimeError("bare subscriber: %d of %s messages" % (received, expected))
    last = time.time()
    client.disconnect()
    client.loop_stop()
    return expected / (last - first) if expected else 0.0


def bridge_drain(port: int, client_id: str, db_url: str, expected: int, since: float) -> float:
    """A bridge on the session ``client_id`` until ``expected`` messages are committed; messages/s from
    the first message received (after ``since``) to the last commit."""
    done = threading.Event()
    last = 0.0

    def on_commit(count: int) -> None:
        nonlocal last
        if bridge.committed + count >= expected:
            last = time.time()
            done.set()

    bridge = Bridge("127.0.0.1", port, db_url=db_url, client_id=client_id, batch_max=WINDOW, on_commit=on_commit)
    bridge.start()
    try:
        if not done.wait(300):
            raise RuntimeError("bridge on %s: %d of %d messages" % (db_url, bridge.committed, expected))
    finally:
        bridge.stop()
    db = Database(db_url)
    try:
        first = min(
            db.query("SELECT min(received_at) FROM %s WHERE received_at > ?" % table, (since,))[0][0] or last
            for table in ("records", "presence")
        )
    finally:
        db.close()
    return expected / (last - first)


def stored_once(db_url: str, expected: dict[str, int]) -> bool:
    """Whether the bridge's tables hold each expected record and order exactly once."""
    db = Database(db_url)
    try:
        return all(db.query("SELECT count(*) FROM %s" % table)[0][0] == count for table, count in expected.items())
    finally:
        db.close()


def run(
    messages: int = 20000, piles: int = 200, publishers: int = 4, rounds: int = 3, postgres: str = POSTGRES_SERVER
) -> dict:
    """Measure; the result pilectl prints."""
    result: dict = {"bench": "ingest", "messages": messages, "rounds": rounds, "piles": piles, "window": WINDOW}
    folder = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    targets = {"sqlite": "sqlite:///%s" % (folder / "bridge.db")}
    pg_admin = pg_name = None
    try:
        pg_admin = psycopg.connect(postgres, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        result["postgres_skipped"] = "not reachable at %s: %s" % (shown(postgres), str(error).strip().splitlines()[0])
    if pg_admin is not None:
        pg_name = "bench_ingest_%s" % uuid.uuid4().hex[:8]
        pg_admin.execute('CREATE DATABASE "%s"' % pg_name)
        targets["postgres"] = urlsplit(postgres)._replace(path="/" + pg_name).geturl()
    rates: dict[str, list[float]] = {"bare_paho": [], **{name: [] for name in targets}}
    expected = {"records": 0, "orders": 0}
    rng = random.Random(1)
    try:
        with Mosquitto("max_queued_messages 0\nmax_inflight_messages %d" % WINDOW) as broker:
            bare_subscriber(broker.port, "bench-bare", None)
            for name, url in targets.items():
                Bridge("127.0.0.1", broker.port, db_url=url, client_id="bench-" + name).start().stop()
            for boot in range(1, rounds + 1):
                batch = [pile_messages("bench%03d" % n, boot, messages // piles, rng) for n in range(piles)]
                total = sum(len(m) for m in batch)
                expected["records"] += sum(1 for m in batch for topic, _ in m if not topic.endswith("/status"))
                expected["orders"] += sum(1 for m in batch for topic, _ in m if topic.endswith("/order"))
                since = time.time()
                threads = [
                    threading.Thread(target=publish, args=(broker.port, batch[n::publishers]))
                    for n in range(publishers)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                rates["bare_paho"].append(bare_subscriber(broker.port, "bench-bare", total))
                for name, url in targets.items():
                    rates[name].append(bridge_drain(broker.port, "bench-" + name, url, total, since))
        for name, values in rates.items():
            result["%s_msgs_s" % name] = round(statistics.median(values))
        for name, url in targets.items():
            result["%s_ratio" % name] = round(result["%s_msgs_s" % name] / result["bare_paho_msgs_s"], 3)
            result["%s_stored_once" % name] = stored_once(url, expected)
    finally:
        if pg_admin is not None:
            pg_admin.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % pg_name)
            pg_admin.close()
        shutil.rmtree(folder, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    """``pilectl bench ingest``: print one JSON object."""
    parser = argparse.ArgumentParser(prog="bench ingest", description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20000, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--piles", type=int, default=200)
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES", POSTGRES_SERVER), help="server URL")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.messages, args.piles, args.publishers, args.rounds, args.postgres)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
