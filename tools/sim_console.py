"""The virtual pile in a terminal: a live table of ports, the LCD and the voice, for ``sim`` and ``demo``."""

from __future__ import annotations

import asyncio
import sys
import time

from boards.sim.world.world import VirtualPile
from cloud_bridge.payment_settings import yuan
from tools.demo_cloud import DemoCloud

REFRESH_S = 1.0
BRIDGE_WAIT_S = 15.0
CLEAR = "\x1b[H\x1b[2J"

# Holds shortened so a whole story fits in a few minutes; the firmware is unchanged.
DEMO_CONFIG = {
    "STATUS_LOG_S": 1,
    "PRICE_FEN": 100,
    "UNIT_MIN": 2,
    "FULL_HOLD_S": 8,
    "UNPLUG_HOLD_S": 5,
    "OVERLOAD_HOLD_S": 2,
    "PLUG_WAIT_S": 20,
    "SETTLE_S": 5,
    "STOPPED_SHOW_S": 15,
    "PILE_MAX_W": 1200,
    "METER_STALE_S": 3,
    "WDT_TIMEOUT_S": 3,
}
DEMO_SPEEDUP = 120

HELP = (
    "commands: plug P [ebike|tricycle|scooter_small] | unplug P | load P W | coins N | press KEYS | "
    "fault silence|garbage|bad_crc|short|late|none | quit"
)


def _left(seconds: int) -> str:
    if seconds < 0:
        return ""
    return "%dh%02dm%02ds" % (seconds // 3600, seconds // 60 % 60, seconds % 60)


def render(pile: VirtualPile, started: float, title: str, cloud: DemoCloud | None = None) -> str:
    """The screen: ports table from the firmware's status log, the LCD, recent prompts and orders."""
    status = [r for r in pile.vm.records if r["log"] == "ports"]
    ports = status[-1]["ports"] if status else []
    lines = [f"{title}   t={time.monotonic() - started:5.0f}s", ""]
    lines.append("port  state      relay  meter W  time left   last stop")
    for number, (state, watts, left, reason) in enumerate(ports, start=1):
        relay = "ON" if pile.relays[number] else "--"
        lines.append(f"{number:>4}  {state:<10} {relay:>5}  {watts:>7}  {_left(left):>10}  {reason}")
    lines.append("")
    lines += ["LCD  |" + row + "|" for row in pile.display()]
    lines.append("")
    lines.append("voice: " + ", ".join(pile.said()[-6:]))
    if cloud is not None:
        lines.append(f"QR pages: {cloud.qr_base} (pay with the sandbox to start a free port)")
        paid = cloud.payments_made()
        lines.append(
            f"QR payments: {len(paid)}"
            + "".join(f", port {port} {yuan(fen)} {state}" for port, fen, state in paid[-3:])
        )
        stored = cloud.orders()
        lines.append(
            f"cloud bridge: {len(stored)} orders stored"
            + (
                " (last: #%d port %d %s, %d fen)"
                % (stored[-1]["order_no"], stored[-1]["port"], stored[-1]["stop_reason"], stored[-1]["used_fen"])
                if stored
                else ""
            )
        )
    for order in pile.orders()[-5:]:
        lines.append(
            "order #%d port %d %-9s paid %d (%s) used %d fen, %d Wh, %ds"
            % (
                order["no"],
                order["port"],
                order["reason"],
                order["paid"],
                order["method"],
                order["used"],
                order["wh"],
                order["charged_s"],
            )
        )
    return "\n".join(lines)


async def _bridge_caught_up(pile: VirtualPile, cloud: DemoCloud) -> None:
    """Give the link a moment to deliver the last orders, then compare both sides."""
    deadline = time.monotonic() + BRIDGE_WAIT_S
    while len(cloud.orders()) < len(pile.orders()) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    stored = {order["order_no"] for order in cloud.orders()}
    made = {order["no"] for order in pile.orders()}
    print(f"cloud bridge: {len(stored)} of {len(made)} orders stored, each once" if stored <= made else "MISMATCH")


async def _show(pile: VirtualPile, started: float, title: str, redraw: bool, cloud: DemoCloud | None = None) -> None:
    while True:
        screen = render(pile, started, title, cloud)
        sys.stdout.write((CLEAR if redraw else "\n") + screen + "\n")
        sys.stdout.flush()
        await asyncio.sleep(REFRESH_S if redraw else 10 * REFRESH_S)


async def _command(pile: VirtualPile, line: str) -> bool:
    """Apply one console command; False on quit."""
    words = line.split()
    if not words:
        return True
    verb, rest = words[0], words[1:]
    if verb == "quit":
        return False
    try:
        if verb == "plug":
            pile.plug(int(rest[0]), rest[1] if len(rest) > 1 else "ebike")
        elif verb == "unplug":
            pile.unplug(int(rest[0]))
        elif verb == "load":
            pile.set_load(int(rest[0]), float(rest[1]))
        elif verb == "coins":
            await pile.insert_coins(int(rest[0]))
        elif verb == "press":
            await pile.press(rest[0])
        elif verb == "fault":
            pile.link.set_fault(None if rest[0] == "none" else rest[0])
        else:
            print(HELP)
    except (IndexError, ValueError, KeyError) as error:
        print(f"bad command {line!r}: {error}\n{HELP}")
    return True


async def run_console(config: dict, profile: str, speedup: float, heap: str) -> int:
    """``pilectl sim``: one virtual pile; type commands while the table updates."""
    merged = {"STATUS_LOG_S": 1}
    merged.update(config)
    pile = VirtualPile(merged, profile=profile, speedup=speedup, heap=heap)
    await pile.start()
    started = time.monotonic()
    shower = asyncio.create_task(_show(pile, started, f"Virtual pile ({pile.profile}). {HELP}", sys.stdout.isatty()))
    loop = asyncio.get_running_loop()
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line or not await _command(pile, line):
                break
    finally:
        shower.cancel()
        print("\n" + render(pile, started, "Virtual pile, at the end"))
        await pile.stop()
    return 0


async def _residents(pile: VirtualPile) -> None:
    """The demo's story: who comes to the pile, when, and what they do."""

    async def at(seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds - (time.monotonic() - t0)))

    t0 = time.monotonic()
    # Ports 8 and 9: chargers plugged in, their owners about to pay on the QR page (that is you, and
    # port 10 is free too); the script never touches these three ports.
    pile.plug(8, "ebike", 0.3)
    pile.plug(9, "scooter_small", 0.5)
    # Ports 1-4: an evening of ordinary charging.
    for port, kind, soc in ((1, "ebike", 0.9), (2, "scooter_small", 0.05), (3, "tricycle", 0.5), (4, "ebike", 0.4)):
        pile.plug(port, kind, soc)
        await pile.press(f"{port}#")
        await pile.insert_coins(5 if port != 2 else 1)
        await pile.press("#")
    # Port 5: pile already near its limit, so this start waits in the queue.
    pile.plug(5, "tricycle", 0.2)
    await pile.press("5#")
    await pile.insert_coins(3)
    await pile.press("#")
    await at(25)
    # Someone mistypes a port, and someone pays before choosing one.
    await pile.press("12#")
    await pile.insert_coins(1)
    pile.plug(6, "ebike", 0.5)
    await pile.press("6#")
    await at(35)
    # A heater on port 7: refused as an overload.
    pile.set_load(7, 1600)
    await pile.press("7#")
    await pile.insert_coins(1)
    await pile.press("#")
    await at(50)
    # Port 4's owner comes back early and pulls the plug; port 6's stops by keypad.
    pile.unplug(4)
    await at(60)
    await pile.press("D6#")
    await at(70)
    # The meter line goes bad for a while: every relay drops, then charging resumes.
    pile.link.set_fault("garbage")
    await at(80)
    pile.link.set_fault(None)
    await at(150)


async def run_demo(profile: str, forever: bool, redraw: bool, public_url: str | None = None) -> int:
    """``make demo``: a pile with residents coming and going; ports start, charge and stop for many reasons,
    and every order travels over MQTT to the cloud bridge's database. Each port's QR page is served too:
    paying one with the sandbox starts that port."""
    cloud = await asyncio.to_thread(DemoCloud(public_url).start)
    # Before the screen starts redrawing (which clears these; its QR line stays).
    print("\n".join(cloud.qr_lines))
    print("Open one in a browser once the pile is online and pay with the sandbox: the port starts.\n")
    pile = VirtualPile(DEMO_CONFIG, profile=profile, speedup=DEMO_SPEEDUP, cloud=cloud.account())
    await pile.start()
    started = time.monotonic()
    title = f"Virtual pile demo ({pile.profile} meter, real firmware on MicroPython, batteries x{DEMO_SPEEDUP})"
    shower = asyncio.create_task(_show(pile, started, title, redraw, cloud))
    try:
        await _residents(pile)
        if forever:
            await asyncio.Event().wait()
    finally:
        shower.cancel()
        print("\n" + render(pile, started, title, cloud))
        reasons = sorted({o["reason"] for o in pile.orders()})
        print(f"\n{len(pile.orders())} orders; stop reasons seen: {', '.join(reasons)}")
        await _bridge_caught_up(pile, cloud)
        await pile.stop()
        await asyncio.to_thread(cloud.stop)
    return 0
