"""The pile's MQTT client, on the MicroPython VM, against a real mosquitto started for the test."""

from __future__ import annotations

import socket
import subprocess
import threading
import time

import paho.mqtt.client as paho
import pytest

from boards.sim.world.vm import micropython_executable, run_source
from cloud_bridge.mosquitto import Mosquitto
from tools.mpy_build import ROOT

# Runs on the VM: connect with a will, subscribe, report a command, publish N messages at QoS 1.
_PILE = """
import asyncio, sys
from firmware.cloud.mqtt import MqttClient, MqttError
port, count, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
async def main():
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    client = MqttClient(reader, writer, "pile-p1", keepalive_s=30, will=("pile/p1/status", b"offline", True),
                        username="p1" if password != "-" else None, password=password if password != "-" else None)
    got = asyncio.Event()
    def on_message(topic, payload):
        print("GOT", topic, payload.decode())
        got.set()
    client.on_message = on_message
    try:
        await client.connect()
    except MqttError as error:
        print("REFUSED", error)
        return
    await client.subscribe("pile/p1/cmd")
    await client.publish("pile/p1/status", b"online", retain=True)
    print("READY")
    await asyncio.wait_for_ms(got.wait(), 10000)
    for number in range(count):
        await client.publish("pile/p1/order", b"order-%d" % number)
        print("PUBACKED", number)
    print("DONE")
    await asyncio.sleep_ms(60000)
asyncio.run(main())
"""


@pytest.fixture
def broker():
    """A mosquitto of our own on a free port; yields a function that starts one (with ``users``: no anonymous)."""
    started: list[Mosquitto] = []

    def start(users: dict[str, str] | None = None) -> int:
        started.append(Mosquitto(users=users).start())
        return started[-1].port

    yield start
    for running in started:
        running.stop()


def run_pile(port: int, count: int, password: str = "-") -> subprocess.Popen:
    return subprocess.Popen(
        [micropython_executable(), "-X", "heapsize=96wK", "-c", _PILE, str(port), str(count), password],
        cwd=ROOT,
        env={"MICROPYPATH": f".frozen:{ROOT}"},
        stdout=subprocess.PIPE,
        text=True,
    )


def wait_line(process: subprocess.Popen, prefix: str, timeout_s: float = 10) -> str:
    lines: list[str] = []

    def read():
        for line in process.stdout:
            lines.append(line.strip())
            if line.startswith(prefix):
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout_s)
    assert lines and lines[-1].startswith(prefix), lines
    return lines[-1]


def test_qos1_in_order_commands_and_the_will(broker):
    port = broker()
    received: list[tuple[str, bytes, bool]] = []
    observer = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="observer")
    observer.on_message = lambda _c, _u, message: received.append((message.topic, message.payload, message.retain))
    observer.connect("127.0.0.1", port)
    observer.subscribe("pile/p1/#", qos=1)
    observer.loop_start()
    pile = run_pile(port, 20)
    try:
        wait_line(pile, "READY")
        observer.publish("pile/p1/cmd", b"stop 3", qos=1).wait_for_publish(5)
        assert wait_line(pile, "GOT") == "GOT pile/p1/cmd stop 3"
        wait_line(pile, "DONE")
        time.sleep(0.3)
        orders = [payload for topic, payload, _ in received if topic == "pile/p1/order"]
        assert orders == [b"order-%d" % n for n in range(20)]
        assert b"online" in [p for t, p, _ in received if t == "pile/p1/status"]
        pile.kill()  # the link dies without DISCONNECT: the broker must publish the will
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(p == b"offline" for t, p, _ in received):
            time.sleep(0.05)
        assert ("pile/p1/status", b"offline", False) in received
    finally:
        pile.kill()
        observer.loop_stop()


def test_broker_refusal_is_a_clear_error(broker):
    port = broker(users={})
    pile = run_pile(port, 1, "wrong")
    try:
        assert "refused" in wait_line(pile, "REFUSED")
    finally:
        pile.kill()


# Runs on the VM: connect to a broker that answers CONNACK and then sends garbage.
_AGAINST_GARBAGE = """
import asyncio, sys
from firmware.cloud.mqtt import MqttClient
async def main():
    reader, writer = await asyncio.open_connection("127.0.0.1", int(sys.argv[1]))
    client = MqttClient(reader, writer, "pile-p1", timeout_ms=2000)
    await client.connect()
    for _ in range(100):
        if not client.connected:
            break
        await asyncio.sleep_ms(20)
    print("CLOSED" if not client.connected else "STILL OPEN")
asyncio.run(main())
"""


@pytest.mark.parametrize(
    "garbage",
    [b"\xff\xff\xff\xff\xff", b"\x30\xff\xff\xff\x7f", b"\x70\x02\x00\x01", b"\x30"],
    ids=["bad-length", "oversized", "unknown-type", "truncated"],
)
def test_a_broker_breaking_the_protocol_gets_the_link_closed_not_a_crash(garbage):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def serve():
        connection, _ = server.accept()
        connection.recv(1024)  # CONNECT
        connection.sendall(b"\x20\x02\x00\x00" + garbage)
        time.sleep(0.5)
        connection.close()

    threading.Thread(target=serve, daemon=True).start()
    result = run_source(["-c", _AGAINST_GARBAGE, str(port)], timeout_s=20)
    server.close()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "CLOSED"
