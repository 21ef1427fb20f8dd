"""Benchmarks of the virtual pile; each returns a dict that pilectl prints as JSON."""

from __future__ import annotations

import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from boards.sim.world.cards import full_card_book, new_site_key, prepaid_card, record_of
from boards.sim.world.flash import provision, put_file
from boards.sim.world.serial_link import char_time_s
from boards.sim.world.world import VirtualPile
from cloud_bridge.mosquitto import Mosquitto, free_port
from drivers.meter_profiles import PROFILES
from tools import powercut as power_cuts
from tools.tls_certs import make_ca_and_server, tls_listener

ERASE_CYCLES = 100000
SWIPE_GAP_S = 4.0
KEYS_AFTER_RECORDS_S = 0.5
REQUEST_BYTES = 8
REPLY_OVERHEAD_BYTES = 5


def wire_ms(profile_name: str, baudrate: int, ports: int = 10) -> float:
    """Bytes on the wire for one full scan of ``profile_name``, as time at ``baudrate``."""
    profile = PROFILES[profile_name]
    meters = ports if profile["layout"] == "per_port" else 1
    per_meter = sum(REQUEST_BYTES + REPLY_OVERHEAD_BYTES + 2 * count for _, count in profile["blocks"])
    return meters * per_meter * char_time_s(baudrate) * 1000


def _health(pile: VirtualPile) -> list[dict]:
    return [r for r in pile.vm.records if r["log"] == "health"]


async def meter(args) -> dict:
    """Time of a full 10-port scan against the wire time it needs at the baud rate."""
    pile = VirtualPile({"METER_PROFILE": args.profile}, heap=args.heap)
    await pile.start()
    try:
        await asyncio.sleep(args.seconds)
    finally:
        await pile.stop()
    windows = [h for h in _health(pile) if h["window_scans"]]
    scans = sum(h["window_scans"] for h in windows)
    return {
        "bench": "meter",
        "profile": args.profile,
        "baud": pile.baudrate,
        "transactions_per_scan": len(PROFILES[args.profile]["blocks"])
        * (10 if PROFILES[args.profile]["layout"] == "per_port" else 1),
        "scans": scans,
        "scan_ms_mean": round(sum(h["window_scan_ms"] for h in windows) / scans, 1) if scans else None,
        "scan_ms_max": max((h["max_scan_ms"] for h in windows), default=None),
        "wire_ms": round(wire_ms(args.profile, pile.baudrate), 1),
        "failed_scans": windows[-1]["failed_scans"] if windows else None,
    }


def _latencies(values_ms: list[float]) -> dict:
    ordered = sorted(values_ms)
    return {
        "trials": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def _opened(pile: VirtualPile, since: int, port: int) -> float | None:
    """When ``port``'s relay opened among the relay events from index ``since`` on (None: not yet)."""
    return next((t for t, number, level in pile.relay_events[since:] if number == port and level == 0), None)


async def _line_trip(pile: VirtualPile, trip_w: int, make_fault, clear_fault) -> float:
    """One trial on port 1: charging, then ``make_fault()``; ms from the meter first serving a power over
    ``trip_w`` to the relay opening. ``clear_fault()`` undoes it once the relay is open."""
    pile.set_load(1, 150)
    await pile.press("1#")
    await pile.wait_for(lambda: pile.relays[1] == 1 and pile.port_power(1) > 100, 10, "port 1 on")
    await asyncio.sleep(0.3)
    pile.model.arm_trip_probe(1, trip_w)
    events_before = len(pile.relay_events)
    orders_before = len(pile.orders())
    make_fault()
    await pile.wait_for(lambda: _opened(pile, events_before, 1) is not None, 10, "relay 1 to open")
    latency_ms = (_opened(pile, events_before, 1) - pile.model.trip_probe_served_at) * 1000
    # Undone once the pile has written the session's records: the keypad is polled between flash writes,
    # so a key pressed and released while they run is not seen.
    await pile.wait_for(lambda: len(pile.orders()) > orders_before, 10, "the trial's order")
    await asyncio.sleep(KEYS_AFTER_RECORDS_S)
    await clear_fault()
    # The next trial starts once the display shows port 1 idle again (its stop shown for STOPPED_SHOW_S).
    await pile.wait_for(lambda: pile.display()[0][:1] == ".", 10, "port 1 idle")
    return latency_ms


async def trip(args) -> dict:
    """Protection latencies, each over ``--trials`` trials (the pile in free mode):

    - overload: the meter first serving a power over PORT_TRIP_W on a port -> that relay open;
    - short: the meter first serving a shorted port's current -> that relay open (the port latched,
      then cleared with the manager's code for the next trial);
    - smoke: the detector's edge on the pin bus -> the last of three charging ports' relays open.

    Targets (issue 7): overload and short within 1.5 x (one scan's wire time + 20 ms); smoke 50 ms p99.
    """
    trip_w = 2000
    code = 1357
    config = {
        "METER_PROFILE": args.profile,
        "FREE_MODE": True,
        "PORT_TRIP_W": trip_w,
        "STOPPED_SHOW_S": 1,
        "SERVICE_PIN": code,
    }
    pile = VirtualPile(config, heap=args.heap)
    await pile.start()
    overload, short, smoke = [], [], []
    try:
        for _ in range(args.trials):

            async def unplug() -> None:
                pile.unplug(1)

            overload.append(await _line_trip(pile, trip_w, lambda: pile.set_load(1, 2600), unplug))

        for _ in range(args.trials):

            async def clear_short() -> None:
                pile.short_circuit(1, 0)
                pile.unplug(1)
                await pile.press(f"C{code}#")

            short.append(await _line_trip(pile, trip_w, lambda: pile.short_circuit(1), clear_short))
        ports = (1, 2, 3)
        orders = len(pile.orders())
        for _ in range(args.trials):
            for port in ports:
                pile.set_load(port, 150)
                await pile.press(f"{port}#")
            await pile.wait_for(lambda: all(pile.relays[p] for p in ports), 10, "ports 1-3 on")
            await asyncio.sleep(0.3)
            events_before = len(pile.relay_events)
            await pile.cabinet.set_smoke(True)
            await pile.wait_for(
                lambda since=events_before: all(_opened(pile, since, p) for p in ports), 10, "every relay open"
            )
            last_open = max(_opened(pile, events_before, p) for p in ports)
            smoke.append((last_open - pile.cabinet.smoke_changed_at) * 1000)
            # The manager's code once the pile has written the three sessions' records (as above).
            await pile.wait_for(lambda count=orders + 3: len(pile.orders()) >= count, 10, "the smoke's orders")
            await asyncio.sleep(KEYS_AFTER_RECORDS_S)
            orders += 3
            await pile.cabinet.set_smoke(False)
            await pile.press(f"C{code}#")
            await pile.wait_for(lambda: not pile.cabinet.buzzer, 10, "the smoke latch cleared")
            await asyncio.sleep(KEYS_AFTER_RECORDS_S)  # the clear is written too
    finally:
        await pile.stop()
    scan_ms = wire_ms(args.profile, 9600)
    return {
        "bench": "trip",
        "profile": args.profile,
        "scan_wire_ms": round(scan_ms, 1),
        "line_target_ms": round(1.5 * (scan_ms + 20), 1),
        "smoke_target_p99_ms": 50,
        "overload": _latencies(overload),
        "short": _latencies(short),
        "smoke": _latencies(smoke),
    }


async def memory(args) -> dict:
    """Peak heap (gc.mem_alloc) with all 10 ports charging, the cloud link up over TLS sending
    telemetry every 5 s, and the card reader's task running, under the constrained VM heap."""
    folder = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    certs = make_ca_and_server(folder)
    tls_port = free_port()
    broker = Mosquitto(tls_listener(tls_port, certs))
    await asyncio.to_thread(broker.start)
    cloud = {"broker": ("127.0.0.1", tls_port), "pile": "BENCH1", "password": "bench", "ca": certs["ca.der"]}
    cfg = {"METER_PROFILE": args.profile, "STATUS_LOG_S": 1, "TELEMETRY_S": 5, "TELEMETRY_MIN_S": 1}
    # Every pile has a card reader: its driver and task are part of the resident heap, and its card book
    # is full (--card-book empty for a new pile's); a card is swiped every few seconds, each swipe reading
    # the book into the heap for its round.
    site_key = new_site_key()
    pile = VirtualPile(cfg, heap=args.heap, speedup=5, cloud=cloud, site_key=site_key)
    book = b""
    if args.card_book == "full":
        book = full_card_book()
        await asyncio.to_thread(provision, pile.flash_image)
        await asyncio.to_thread(put_file, pile.flash_image, "cards.bin", book)
    try:
        await pile.start()
        for port in range(1, 11):
            pile.plug(port, "ebike" if port % 3 else "tricycle", soc=0.1)
            await pile.press(f"{port}#")
            await pile.insert_coins(1)
            await pile.press("#")
        await pile.wait_for(lambda: all(pile.relays[p] for p in range(1, 11)), 20, "all ports charging")
        started = time.monotonic()
        seen = len(_health(pile))
        card = prepaid_card(site_key, bytes((0xC0, 0xFF, 0xEE, 0)), 2000)
        swipes = served = 0
        while time.monotonic() - started < args.seconds:
            pile.present_card(card)
            swipes += 1
            try:
                await pile.wait_for(
                    lambda served=served: pile.said().count("card_balance") > served, 5, "the card's balance said"
                )
                served += 1
            except TimeoutError:
                pass  # counted: served < swipes, and the card_fault alarms say why
            pile.remove_card()
            await asyncio.sleep(SWIPE_GAP_S)
        charging = [r for r in pile.vm.records if r["log"] == "ports"][-1]["ports"]
        alive = pile.vm.running
    finally:
        await pile.stop()
        await asyncio.to_thread(broker.stop)
        shutil.rmtree(folder, ignore_errors=True)
    during = _health(pile)[seen:]
    cloud_up = [r for r in pile.vm.records if r["log"] == "cloud" and r.get("state") == "up"]
    memory_errors = [line for line in pile.vm.text_lines if "MemoryError" in line]
    return {
        "bench": "memory",
        "heap": args.heap,
        "seconds": round(time.monotonic() - started, 1),
        "ports_charging": sum(1 for state, *_ in charging if state == "charging"),
        "heap_peak_bytes": max(h["heap_peak"] for h in during),
        "heap_live_max_bytes": max(h["heap_live"] for h in during),
        "heap_free_min_bytes": min(h["heap_free"] for h in during),
        # On the 64-bit unix port; -X heapsize=96wK doubles the heap to stand for 96 KB on a 32-bit ESP32.
        "heap_total_bytes": during[-1]["heap_live"] + during[-1]["heap_free"],
        "vm_alive": alive,
        "memory_errors": len(memory_errors),
        "cloud_tls_sessions": len(cloud_up),
        "card_book_file_bytes": len(book),
        "card_swipes": swipes,
        "card_swipes_served": served,
        "card_faults": [r["detail"] for r in pile.vm.records if r.get("alarm") == "card_fault"],
    }


async def powercut(args) -> dict:
    """Cut the power at every block write of the scripted lifecycle (written, and not); what survived."""
    with tempfile.TemporaryDirectory() as folder:
        writes = await asyncio.to_thread(power_cuts.writes_in_lifecycle, Path(folder))
    results = await asyncio.to_thread(power_cuts.torture, list(range(1, writes + 1)))
    return {"bench": "powercut", "block_writes_in_lifecycle": writes, **power_cuts.summary(results)}


async def wear(args) -> dict:
    """Flash block programs and erases in a busy day (10 ports, 30 sessions), and the partition's life."""
    with tempfile.TemporaryDirectory() as name:
        image = Path(name) / "day.img"
        await asyncio.to_thread(power_cuts.provisioned_image, Path(name))
        shutil.copy(Path(name) / "pristine.img", image)
        lines = await asyncio.to_thread(power_cuts.run_lifecycle, ["day", str(image)], image)
    programs, erases, blocks = (int(word) for word in next(x for x in lines if x.startswith("DAY")).split()[1:])
    per_block_per_day = erases / blocks
    return {
        "bench": "wear",
        "sessions_per_day": 30,
        "checkpoint_s": 60,
        "block_programs_per_day": programs,
        "block_erases_per_day": erases,
        "partition_blocks": blocks,
        "erase_cycles": ERASE_CYCLES,
        "projected_life_years": round(ERASE_CYCLES / per_block_per_day / 365, 1),
    }


async def resume(args) -> dict:
    """From power restore to the first resumed relay, with the charger still plugged."""
    # Enough boots allowed that the trials themselves do not look like a boot loop.
    pile = VirtualPile({"METER_PROFILE": args.profile, "CHECKPOINT_S": 5, "SAFE_BOOTS": 20}, heap=args.heap)
    await pile.start()
    times_ms = []
    try:
        pile.plug(1, "ebike")
        await pile.press("1#")
        await pile.insert_coins(1)
        await pile.press("#")
        await pile.wait_for(lambda: pile.relays[1] == 1, 10, "port 1 on")
        for _ in range(args.trials):
            await asyncio.sleep(1)
            await pile.power_cut()
            restored_at = time.monotonic()
            count = len(pile.relay_events)
            await pile.power_restore()
            await pile.wait_for(lambda: pile.relays[1] == 1, 20, "port 1 resumed")
            on_at = next(t for t, port, level in pile.relay_events[count:] if port == 1 and level == 1)
            times_ms.append((on_at - restored_at) * 1000)
    finally:
        await pile.stop()
    ordered = sorted(times_ms)
    return {
        "bench": "resume",
        "trials": len(ordered),
        "p50_ms": round(statistics.median(ordered)),
        "max_ms": round(ordered[-1]),
        "includes": "VM start, .mpy import, flash mount and restore, first meter scan, relay check",
    }


async def card(args) -> dict:
    """A card at the pile: laid on the reader with its port chosen, to the relay on; laid again, to the
    relay off and to the refund read back from the card. A new card each trial."""
    site_key = new_site_key()
    pile = VirtualPile({"METER_PROFILE": args.profile, "CARD_REPEAT_S": 0}, heap=args.heap, site_key=site_key)
    await pile.start()
    starts_ms, stops_ms, refunds_ms = [], [], []

    def relay_at(count: int, level: int) -> float:
        return next(t for t, port, to in pile.relay_events[count:] if port == 1 and to == level)

    try:
        pile.plug(1, "ebike")
        await pile.wait_for(lambda: pile.display()[0].startswith(".........."), 10, "meter read")
        for trial in range(args.trials):
            card = prepaid_card(site_key, bytes((0xC0, 0xFF, 0, trial)), 2000)
            await pile.press("1#")
            count, laid = len(pile.relay_events), time.monotonic()
            pile.present_card(card)
            await pile.wait_for(lambda: pile.relays[1] == 1, 10, "port 1 on")
            starts_ms.append((relay_at(count, 1) - laid) * 1000)
            pile.remove_card()
            await asyncio.sleep(1)
            count, laid = len(pile.relay_events), time.monotonic()
            pile.present_card(card)
            await pile.wait_for(lambda: pile.relays[1] == 0, 10, "port 1 off")
            stops_ms.append((relay_at(count, 0) - laid) * 1000)
            await pile.wait_for(lambda card=card: record_of(site_key, card).session_pile == 0, 10, "refund on card")
            refunds_ms.append((time.monotonic() - laid) * 1000)
            pile.remove_card()
            await asyncio.sleep(0.5)
    finally:
        await pile.stop()
    figures: dict = {"bench": "card", "trials": args.trials, "reader_poll_ms": 250}
    for name, values in (("start", starts_ms), ("stop", stops_ms), ("refund", refunds_ms)):
        figures[name + "_p50_ms"] = round(statistics.median(values))
        figures[name + "_max_ms"] = round(max(values))
    return figures


async def wire(_args) -> dict:
    """Bytes per message kind and a busy pile's month, plain TCP and TLS (tools/wire_bench.py)."""
    from tools import wire_bench

    return await asyncio.to_thread(wire_bench.wire)


async def ingest(_args) -> dict:
    """The bridge's ingest rate into SQLite and PostgreSQL beside a bare paho subscriber."""
    from cloud_bridge import bench as ingest_bench

    return await asyncio.to_thread(ingest_bench.run)


async def qstrs(_args) -> dict:
    """Names the firmware interns on the VM: at boot, with every module loaded, and room before a new pool."""
    from tools import qstr_budget

    return await asyncio.to_thread(qstr_budget.measure)


RUNNERS = {
    "meter": meter,
    "trip": trip,
    "memory": memory,
    "powercut": powercut,
    "wear": wear,
    "resume": resume,
    "card": card,
    "wire": wire,
    "ingest": ingest,
    "qstrs": qstrs,
}
