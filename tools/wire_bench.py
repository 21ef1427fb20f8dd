"""``pilectl bench wire``: bytes on the wire per message kind, and a busy pile's month, plain and TLS.

The firmware's own MQTT client and message builders run on the MicroPython VM
against a real mosquitto, through the world's network proxy, which counts the
TCP payload each way. Each step (connect, birth, order, telemetry, alarm, one
keepalive ping) is measured alone. The month is then projected for a busy
pile from those sizes; the traffic model is printed with the result. IP and
TCP headers are added as ``HEADER_BYTES`` per packet and one bare ACK per
packet, since the 4G plan bills IP bytes.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from boards.sim.world.network import NetworkProxy
from boards.sim.world.vm import micropython_executable
from cloud_bridge.mosquitto import Mosquitto, free_port
from firmware import config
from tools.mpy_build import ROOT
from tools.tls_certs import make_ca_and_server, tls_listener

HEADER_BYTES = 40  # IPv4 (20) + TCP (20) per segment; options and the radio's own overhead not counted
DAYS_PER_MONTH = 30
MB = 1_000_000

# A busy pile (the figure): 10 ports, 30 four-hour sessions a day.
SESSION_S = 4 * 3600
BUSY_DAY = {
    "sessions": 30,
    "alarms": 1,
    "reconnects": 1,  # the carrier's NAT or a cell change drops the link about daily
}

_STEPS = ("birth", "status", "order", "tele1", "tele10", "alarm", "ping")

# Runs on the VM: connect (TLS when a CA is given), then one measured step per line on stdin.
_CLIENT = """
import asyncio, gc, sys
from firmware.cloud import messages
from firmware.cloud.mqtt import MqttClient
host, port, ca, keepalive = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
T = 1795000000
ORDER = {"no": 1234, "port": 7, "method": "coin", "start": T - 14400, "end": T, "wh": 1480, "charged_s": 14100,
         "paid": 200, "used": 150, "returned": 0, "tier": 2, "payments": 2, "reason": "full"}
async def main():
    gc.collect()
    base = gc.mem_alloc()
    ssl = None
    if ca != "-":
        import tls
        ssl = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
        ssl.verify_mode = tls.CERT_REQUIRED
        ssl.load_verify_locations(open(ca, "rb").read())
    if ssl is None:
        reader, writer = await asyncio.open_connection(host, port)
    else:
        reader, writer = await asyncio.open_connection(host, port, ssl=ssl)
    up = "pile/P0000001/up/"
    client = MqttClient(reader, writer, "P0000001", keepalive, "P0000001", "x" * 24,
                        (up + "status", messages.record(3, 1, T, (False,)), True))
    await client.connect()
    await client.subscribe("pile/P0000001/down/#")
    gc.collect()
    print("READY", gc.mem_alloc() - base)
    while True:
        step = sys.stdin.readline().strip()
        if step == "birth":
            await client.publish(up + "birth", messages.record(3, 1, T, ("0.4.0", 12, 10, 0)))
        elif step == "status":
            await client.publish(up + "status", messages.record(3, 1, T, (True,)), True)
        elif step == "order":
            await client.publish(up + "order", messages.order(3, 2, T, ORDER))
        elif step == "tele1":
            await client.publish(up + "tele", messages.record(3, 3, T, ([[7, 3, 412, 12840]],)))
        elif step == "tele10":
            ports = [[n, 3, 380 + n, 14400 - n * 60] for n in range(1, 11)]
            await client.publish(up + "tele", messages.record(3, 4, T, (ports,)))
        elif step == "alarm":
            await client.publish(up + "alarm", messages.record(3, 5, T, ("meter_lost", 0, "")))
        elif step == "ping":
            await asyncio.sleep_ms(keepalive * 750 + 500)
        else:
            break
        print("DONE", step)
asyncio.run(main())
"""


async def _measure(proxy: NetworkProxy, broker_port: int, ca: str) -> dict:
    proxy.broker_port = broker_port
    proxy.bytes_up = proxy.bytes_down = 0
    process = await asyncio.create_subprocess_exec(
        micropython_executable(),
        "-X",
        "heapsize=96wK",
        "-c",
        _CLIENT,
        "127.0.0.1",
        str(proxy.port),
        ca,
        "4",
        cwd=ROOT,
        env={"MICROPYPATH": f".frozen:{ROOT / 'build' / 'sim'}"},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdin and process.stdout

    async def answer(prefix: str) -> str:
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode().strip()
        if not line.startswith(prefix):
            raise RuntimeError(f"bench client said {line!r}")
        return line

    sizes = {}
    try:
        ready = await answer("READY")
        sizes["connect"] = proxy.bytes_up + proxy.bytes_down
        for step in _STEPS:
            before = proxy.bytes_up + proxy.bytes_down
            process.stdin.write(step.encode() + b"\n")
            await process.stdin.drain()
            await answer("DONE")
            await asyncio.sleep(0.1)
            sizes[step] = proxy.bytes_up + proxy.bytes_down - before
    finally:
        process.stdin.write(b"quit\n")
        await process.stdin.drain()
        await asyncio.wait_for(process.wait(), 10)
    sizes["heap_after_connect_b"] = int(ready.split()[1])
    return sizes


def busy_day(cfg: dict) -> dict:
    """What a busy pile sends in a day under the firmware's rules, from a timeline of its sessions.

    Sessions start evenly over the day and charge for SESSION_S each; each sends a telemetry change
    at its start, at its stop (with its order) and when the port shows idle again; full telemetry
    goes every TELEMETRY_S (some port is always charging); a keepalive ping goes after every
    3/4 KEEPALIVE_S without a packet sent.
    """
    day_s = 86400
    sessions = BUSY_DAY["sessions"]
    changes, orders = [], []
    for index in range(sessions):
        start = index * day_s // sessions
        stop = start + SESSION_S
        changes += [start % day_s, stop % day_s, (stop + cfg["STOPPED_SHOW_S"]) % day_s]
        orders.append(stop % day_s)
    full = list(range(0, day_s, cfg["TELEMETRY_S"]))
    sent = sorted(changes + orders + full)
    ping_after_s = cfg["KEEPALIVE_S"] * 3 // 4
    gaps = [later - earlier for earlier, later in zip(sent, sent[1:] + [sent[0] + day_s], strict=True)]
    return {
        "orders": len(orders),
        "telemetry_changes": len(changes),
        "telemetry_full": len(full) + BUSY_DAY["reconnects"],
        "alarms": BUSY_DAY["alarms"],
        "pings": sum(gap // ping_after_s for gap in gaps),
        "reconnects": BUSY_DAY["reconnects"],
    }


def _month_bytes(sizes: dict, counts: dict) -> int:
    """Bytes a busy pile sends and receives in a month at these message sizes."""
    # An exchange is three segments: the message, its answer (carrying the TCP ACK) and a bare ACK.
    # A connect is CONNECT, CONNACK, SUBSCRIBE, SUBACK and the TLS handshake flights: 16 segments.
    exchange = 3 * HEADER_BYTES
    daily = (
        counts["orders"] * (sizes["order"] + exchange)
        + counts["telemetry_changes"] * (sizes["tele1"] + exchange)
        + counts["telemetry_full"] * (sizes["tele10"] + exchange)
        + counts["alarms"] * (sizes["alarm"] + exchange)
        + counts["pings"] * (sizes["ping"] + exchange)
        + counts["reconnects"] * (sizes["connect"] + sizes["birth"] + sizes["status"] + 16 * HEADER_BYTES)
    )
    return daily * DAYS_PER_MONTH


async def _run() -> dict:
    cfg = config.defaults()
    with tempfile.TemporaryDirectory(prefix="wire-") as folder:
        paths = make_ca_and_server(Path(folder))
        tls_port = free_port()
        broker = Mosquitto(tls_listener(tls_port, paths))
        await asyncio.to_thread(broker.start)
        proxy = NetworkProxy("127.0.0.1", broker.port)
        await proxy.start()
        try:
            plain = await _measure(proxy, broker.port, "-")
            secure = await _measure(proxy, tls_port, str(paths["ca.der"]))
        finally:
            await proxy.stop()
            await asyncio.to_thread(broker.stop)
    counts = busy_day(cfg)
    plain_month = _month_bytes(plain, counts)
    tls_month = _month_bytes(secure, counts)
    return {
        "bench": "wire",
        "keepalive_s": cfg["KEEPALIVE_S"],
        "telemetry_s": cfg["TELEMETRY_S"],
        "tcp_bytes_per_message": {name: plain[name] for name in ("connect", *_STEPS)},
        "tls_bytes_per_message": {name: secure[name] for name in ("connect", *_STEPS)},
        "busy_day_counts": counts,
        "header_bytes_per_packet": HEADER_BYTES,
        "plain_month_mb": round(plain_month / MB, 3),
        "tls_month_mb": round(tls_month / MB, 3),
        "tls_target_month_mb": 2.0,
        "tls_heap_cost_b": secure["heap_after_connect_b"] - plain["heap_after_connect_b"],
    }


def wire() -> dict:
    """Measure and project; returns the JSON-ready result."""
    return asyncio.run(_run())
