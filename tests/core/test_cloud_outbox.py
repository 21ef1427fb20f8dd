"""The cloud link's outbox drain with the real Store: what is sent, what is set aside, what stays."""

import asyncio
import json

from firmware import cbor_decode, config
from firmware.shell import cloud as cloud_link
from firmware.shell import log as alarm_log
from firmware.shell.store import Store
from tests.core.scenario import Scenario, scratch_dir

IDENTITY = {"pile": "PILE-T", "password": "p", "host": "10.0.0.1", "port": 1883}


class Broker:
    """Takes every publish (the PUBACK comes at once) and remembers it."""

    def __init__(self):
        self.published = []

    async def publish(self, topic, payload, retain=False, qos=1):
        self.published.append((topic, cbor_decode.decode(payload)))


class Controller:
    def __init__(self):
        self.pile = Scenario().pile


def order(number, **changes):
    record = {
        "no": number,
        "port": 2,
        "method": "coin",
        "start": 1700000000,
        "end": 1700000600,
        "wh": 40,
        "charged_s": 590,
        "paid": 100,
        "used": 60,
        "returned": 0,
        "tier": -1,
        "payments": 1,
        "reason": "full",
    }
    record.update(changes)
    return record


def drain(link, broker):
    """Send what the link has to send: orders, alarms (telemetry was sent at time 0, the clock stands)."""

    async def run():
        while link._next_record():
            await link._send(broker)

    board_clock = cloud_link.now_ms
    cloud_link.now_ms = lambda: 0
    try:
        asyncio.run(run())
    finally:
        cloud_link.now_ms = board_clock


def make_link(root):
    store = Store(root, print)
    cfg = config.defaults()
    link = cloud_link.CloudLink(None, IDENTITY, store, Controller(), 3, cfg, root + "/config.json")
    link.uplink.take_telemetry(0, 0, link.controller.pile)  # the connect's full telemetry, out of the way
    link.uplink.acked()
    return link, store


def test_orders_go_in_order_and_leave_the_outbox_and_bad_files_are_set_aside():
    root = scratch_dir()
    link, store = make_link(root)
    store.put_order(order(1))
    store.put_order(order(2))
    with open(root + "/outbox/00000003.json", "w") as handle:
        handle.write('{"no": 3, "port"')  # torn by hand: not JSON
    store.put_order({"no": 4, "note": "not an order"})
    with open(root + "/outbox/00000005.json", "w") as handle:
        handle.write(json.dumps(order(6)))  # its number is not its file's
    store.put_order(order(7))
    broker = Broker()
    drain(link, broker)
    sent = [message[3] for topic, message in broker.published if topic.endswith("/order")]
    assert sent == [1, 2, 7]
    seqs = [message[1] for _, message in broker.published]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert store.order_numbers() == [] and store.outbox_count() == 0
    assert store.last_sent() == (7, 0)
    import os

    kept = sorted(name for name in os.listdir(root + "/outbox") if name.endswith(".bad"))
    assert kept == ["00000003.json.bad", "00000004.json.bad", "00000005.json.bad"]


def test_an_order_the_flash_will_not_let_go_is_not_sent_twice_in_a_boot():
    root = scratch_dir()
    link, store = make_link(root)
    store.put_order(order(1))

    def stuck(number):
        raise OSError(5)

    store.order_sent = stuck
    del alarm_log.alarms[:]
    broker = Broker()
    drain(link, broker)
    drain(link, broker)
    orders = [message[3] for topic, message in broker.published if topic.endswith("/order")]
    alarms = [message[3] for topic, message in broker.published if topic.endswith("/alarm")]
    assert orders == [1]  # sent once; after a reboot it goes again and the bridge knows its number
    assert alarms == ["flash_fault"]
    assert store.order_numbers() == [1]
