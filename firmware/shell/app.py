"""Starts the pile on a board: restores its flash, builds the core, then runs the shell's tasks."""

import asyncio
import json

from firmware import config
from firmware.shell import clock, tasks
from firmware.shell.boot import restore_from_flash
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


async def _safe_mode(board, reason):
    """Relays off, the fault on the display, and nothing else: the REPL stays reachable."""
    board.relays.all_off()
    log("alarm", alarm="safe_mode", reason=reason)
    try:
        await board.start()
        board.lcd.show(0, "SAFE MODE E8")
        board.lcd.show(1, reason)
        board.lcd.show(2, "Service needed")
        board.lcd.show(3, "")
    except OSError as error:
        log("alarm", alarm="ui_fault", error=repr(error))


async def run(board, cfg):
    """Boot: restore what the flash holds, then run the pile's tasks until one fails.

    Relays are off before anything else and after the end. Returns (to the
    REPL) in safe mode: on a flash that will not mount or read (never
    formatted here) or after SAFE_BOOTS boots within SAFE_WINDOW_S. Entering
    safe mode forgets those boots, so a reset by hand gets a normal boot.
    The watchdog starts once safe mode is ruled out, so a hang anywhere in
    the rest of the boot resets the board too.
    """
    board.relays.all_off()
    try:
        store = Store(board.mount_flash(), note)
        counters = store.counters()
        clock.restore(counters.get("wall", 0))
        record_boot(counters, clock.wall_s(), cfg["SAFE_BOOTS"])
        looping = boot_loop(counters, cfg["SAFE_BOOTS"], cfg["SAFE_WINDOW_S"])
        if looping:
            counters["boots"] = []
        store.save_counters(counters)
    except OSError as error:
        log("alarm", alarm="flash_fault", error=repr(error))
        await _safe_mode(board, "flash fault")
        return
    if looping:
        await _safe_mode(board, "boot loop")
        return
    watchdog = board.watchdog(cfg["WDT_TIMEOUT_S"] * 1000)
    try:
        await board.start()
    except OSError as error:
        log("alarm", alarm="ui_fault", error=repr(error))
    watchdog.feed()
    try:
        pile, panel, counters, snapshots, refused = restore_from_flash(store, cfg, clock.now_ms(), clock.wall_s())
    except OSError as error:
        log("alarm", alarm="flash_fault", error=repr(error))
        await _safe_mode(board, "flash fault")
        return
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
        credit_fen=panel.credit_fen,
    )
    health = tasks.Health()
    health.flash = board.flash
    supervisor = Supervisor(watchdog, cfg["WDT_TIMEOUT_S"] * 1000)
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
