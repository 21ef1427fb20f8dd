"""Starts the pile on a board: restores its flash, builds the core, then runs the shell's tasks."""

import asyncio
import gc

from firmware.compat import const
from firmware.shell import settings, tasks
from firmware.shell.cloud import CloudLink
from firmware.shell.controller import Controller
from firmware.shell.log import alarm, log
from firmware.shell.modem_task import AlarmTexts, modem_loop
from firmware.shell.supervisor import Supervisor

_BOOT_LOOP = const("boot loop")

_HEAP_SHARE_PER_COLLECT = const(48)
_BOOT_MODULES = const(("firmware.shell.boot", "firmware.resume"))


async def run(board, cfg, identity=None, tls=None, config_path="config.json"):
    """Boot: restore what the flash holds, then run the pile's tasks until one fails.

    Relays are off before anything else and after the end. Returns (to the
    REPL) in safe mode: on a flash that will not mount or read (never
    formatted here) or after SAFE_BOOTS boots within SAFE_WINDOW_S. Entering
    safe mode forgets those boots, so a reset by hand gets a normal boot.
    The watchdog starts once safe mode is ruled out, so a hang anywhere in
    the rest of the boot resets the board too. ``cfg`` is emptied once the
    pile's parts have taken their settings from it. With an ``identity`` (see
    firmware/shell/identity.py) that has a broker account the cloud link runs
    beside the pile's tasks, and so does the modem's on a board with one;
    neither is watched by the supervisor, since a dead network must never
    reset a charging pile. On a board with a card reader the card task runs
    too (not supervised either: cards are not a safety part) once the
    identity gives the site's card key.
    """
    board.relays.all_off()
    try:
        store, counters, looping = _boot("open_flash", board, cfg)
    except OSError as error:
        alarm("flash_fault", detail=repr(error))
        await _safe_mode(board, "flash fault")
        return
    if looping:
        await _safe_mode(board, _BOOT_LOOP)
        return
    watchdog = board.watchdog(cfg["WDT_TIMEOUT_S"] * 1000)
    try:
        await board.start()
    except OSError as error:
        alarm("ui_fault", detail=repr(error))
    watchdog.feed()
    try:
        pile, panel, counters, snapshots, refused = _boot("restore", store, cfg)
    except OSError as error:
        alarm("flash_fault", detail=repr(error))
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
    if board.smoke is not None:
        # Smoke opens the relays from the pin's interrupt, not on the input task's next scan.
        board.smoke.irq(trigger=board.smoke.IRQ_RISING, handler=controller.smoke_edge)
    health = tasks.Health()
    health.flash = board.flash
    supervisor = Supervisor(watchdog, cfg["WDT_TIMEOUT_S"] * 1000)
    # An identity without a broker account names the pile (its cards need that) with the cloud off.
    cloud = identity is not None and "host" in identity
    if cloud:
        link = CloudLink(board, identity, store, controller, counters["boot"], cfg, config_path, tls)
        if settings.exists(config_path + ".answer"):
            # This boot applied (or refused) a config command's change: its answer goes first.
            answer = _boot("config_answer", config_path, store)
            if answer is not None:
                link.answers.append(answer)
        asyncio.create_task(link.run())
    modem_line = getattr(board, "modem_line", None)
    if modem_line is not None:
        # Not supervised either: a stuck modem is power-cycled by its own task, never by the watchdog.
        apn = identity["apn"] if cloud else None
        # Smoke and heat are texted from this modem, with or without the cloud.
        controller.texts = AlarmTexts(cfg, identity["pile"] if identity is not None else "")
        asyncio.create_task(modem_loop(modem_line, apn, cfg["MODEM_POLL_S"] * 1000, controller.texts))
    card_reader = getattr(board, "card_reader", None)
    if card_reader is not None:
        _boot("start_cards", card_reader, controller, cfg, identity)
    if getattr(board, "main_meter", None) is not None:  # not supervised: it only reports; loaded past boot's peak
        from firmware.shell.main_meter_task import start as start_main_meter

        start_main_meter(board, cfg)
    running = (
        supervisor.run(),
        tasks.meter_loop(board.meter, controller, cfg["METER_SCAN_MS"], health, supervisor),
        tasks.health_loop(board.meter, health),
        tasks.status_loop(pile, cfg["STATUS_LOG_S"] * 1000),
        tasks.tick_loop(controller, supervisor, board.thermometer),
        tasks.input_loop(board.keypad, board.coin, board.smoke, controller, supervisor),
        tasks.ui_loop(board.lcd, board.voice, board.buzzer, controller, cfg["NOTICE_S"] * 1000, health, supervisor),
    )
    # Every part has taken the settings it needs, so the config dict (about 5 KB on the VM) is emptied:
    # a stale pointer to it (a coroutine's frame keeps some) then holds an empty dict, not the settings.
    cfg.clear()
    # Left alone, MicroPython collects only when the heap is full, so garbage spreads over all of it and
    # what the running pile keeps lands anywhere in between: the heap ends in small holes where code
    # loaded for a command or a main meter read finds no room. Collecting after every small share keeps
    # the pile's long-lived objects packed low and the top of the heap in one piece.
    gc.collect()
    gc.threshold((gc.mem_free() + gc.mem_alloc()) // _HEAP_SHARE_PER_COLLECT)
    try:
        await asyncio.gather(*running)
    finally:
        board.relays.all_off()


# Boot-only code (firmware/shell/boot.py) is run through this plain function, never from ``run``: a
# coroutine's frame outlives the boot and keeps whatever its locals and stack held, which would keep that
# code in the heap after it is forgotten.


def _boot(step, *args):
    """``step`` of firmware/shell/boot.py with ``args``; its code leaves the heap after."""
    from firmware.shell import boot

    try:
        return getattr(boot, step)(*args)
    finally:
        settings.forget(_BOOT_MODULES)


async def _safe_mode(board, reason):
    from firmware.shell import boot

    await boot.safe_mode(board, reason)
