"""Starts the pile on a board: restores its flash, builds the core, then runs the shell's tasks."""

import asyncio
import json

from firmware import config
from firmware.frontpanel import FrontPanel
from firmware.pile import Pile
from firmware.shell import clock, tasks
from firmware.shell.controller import Controller
from firmware.shell.log import log, note
from firmware.shell.store import Store
from firmware.shell.supervisor import Supervisor


def load_config(path):
    """The site configuration from a JSON file; defaults (and a logged reason) if it is missing or wrong."""
    try:
        with open(path) as handle:
            overrides = json.load(handle)
    except OSError:
        note("no configuration at %s: field defaults" % path)
        return config.defaults()
    except ValueError as error:
        note("config rejected: %s is not valid JSON (%s)" % (path, error))
        return config.defaults()
    return config.load(overrides, note)


def record_boot(counters, wall_s, boots_kept):
    """Count this boot and keep the wall times of the last ``boots_kept`` boots."""
    counters["boot"] = counters.get("boot", 0) + 1
    history = counters.get("boots", [])
    history.append(wall_s)
    counters["boots"] = history[-boots_kept:]


def boot_loop(counters, boots, window_s):
    """True when the last ``boots`` boots all came within ``window_s`` seconds."""
    history = counters["boots"]
    return len(history) >= boots and history[-1] - history[-boots] <= window_s


def safe_mode(board, reason):
    """Relays off, the fault on the display, and nothing else: the REPL stays reachable."""
    board.relays.all_off()
    log("alarm", alarm="safe_mode", reason=reason)
    try:
        board.lcd.show(0, "SAFE MODE E8")
        board.lcd.show(1, reason)
        board.lcd.show(2, "Service needed")
        board.lcd.show(3, "")
    except OSError as error:
        log("alarm", alarm="ui_fault", error=repr(error))


async def run(board, cfg):
    """Boot: restore what the flash holds, then run the pile's tasks until one fails.

    Relays are off before anything else and after the end. Returns (to the
    REPL) in safe mode: on a flash that will not mount (never formatted
    here) or after SAFE_BOOTS boots within SAFE_WINDOW_S.
    """
    board.relays.all_off()
    try:
        await board.start()
    except OSError as error:
        log("alarm", alarm="ui_fault", error=repr(error))
    try:
        store = Store(board.mount_flash(), note)
        counters = store.counters()
        clock.restore(counters.get("wall", 0))
        record_boot(counters, clock.wall_s(), cfg["SAFE_BOOTS"])
        store.save_counters(counters)
        snapshots = store.sessions()
    except OSError as error:
        log("alarm", alarm="flash_fault", error=repr(error))
        safe_mode(board, "flash fault")
        return
    if boot_loop(counters, cfg["SAFE_BOOTS"], cfg["SAFE_WINDOW_S"]):
        safe_mode(board, "boot loop")
        return
    pile = Pile(cfg, clock.now_ms())
    pile.wall_s = clock.wall_s()
    panel = FrontPanel(pile, cfg)
    panel.credit_fen = counters.get("credit_fen", 0)
    refused = pile.restore(clock.now_ms(), counters.get("next_order", 1), snapshots)
    counters["next_order"] = pile.next_order
    counters["credit_fen"] = panel.credit_fen
    counters.setdefault("wall", pile.wall_s)
    controller = Controller(pile, panel, board.relays, [], store, counters, cfg)
    log(
        "boot",
        boot=counters["boot"],
        ports=len(pile.ports),
        meter=cfg["METER_PROFILE"],
        tariff=cfg["TARIFF_MODE"],
        resumed=[number for number, _ in snapshots if number not in refused],
        refused=refused,
        outbox=store.outbox_count(),
    )
    health = tasks.Health()
    health.flash = board.flash
    supervisor = Supervisor(board.watchdog(cfg["WDT_TIMEOUT_S"] * 1000), cfg["WDT_TIMEOUT_S"] * 1000 // 3)
    try:
        await asyncio.gather(
            supervisor.run(),
            tasks.meter_loop(board.meter, controller, cfg["METER_SCAN_MS"], health, supervisor),
            tasks.health_loop(board.meter, health),
            tasks.status_loop(pile, cfg["STATUS_LOG_S"] * 1000),
            tasks.tick_loop(controller, supervisor),
            tasks.input_loop(board.keypad, board.coin, controller, supervisor),
            tasks.ui_loop(board.lcd, board.voice, controller, cfg["NOTICE_S"] * 1000, health, supervisor),
        )
    finally:
        board.relays.all_off()
