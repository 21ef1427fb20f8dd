"""Starts the pile on a board: restores its flash, builds the core, then runs the shell's tasks."""

import asyncio
import gc

from firmware.compat import const
from firmware.shell import clock, settings, tasks
from firmware.shell.cloud import COMMAND_MODULES, CloudLink
from firmware.shell.controller import Controller
from firmware.shell.log import alarm, log, note
from firmware.shell.modem_task import modem_loop
from firmware.shell.store import Store
from firmware.shell.supervisor import Supervisor

_BOOT_LOOP = const("boot loop")

_HEAP_SHARE_PER_COLLECT = const(48)
_BOOT_MODULES = const(("firmware.shell.boot",))
# The card layout's code, needed at boot only for the pile's tag; each swipe loads it again.
_CARD_SETTINGS = const(("CARD_HOLD_FEN", "CARD_MIN_FEN", "CARD_DAY_MAX", "CARD_REPEAT_S"))
_TAG_MODULES = const(("firmware.card.record", "firmware.card.value_block", "firmware.mac"))


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
        store, counters, looping = _open_flash(board, cfg)
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
        pile, panel, counters, snapshots, refused = _restore(store, cfg)
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
            answer = _config_answer(config_path, store)
            if answer is not None:
                link.answers.append(answer)
        asyncio.create_task(link.run())
    modem_line = getattr(board, "modem_line", None)
    if modem_line is not None:
        # Not supervised either: a stuck modem is power-cycled by its own task, never by the watchdog.
        apn = identity["apn"] if cloud else None
        asyncio.create_task(modem_loop(modem_line, apn, cfg["MODEM_POLL_S"] * 1000))
    card_reader = getattr(board, "card_reader", None)
    if card_reader is not None:
        _start_cards(card_reader, controller, cfg, identity)
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


# Boot-only code (firmware/shell/boot.py, firmware/shell/config_update.py) is used from these plain
# functions, never from ``run``: a coroutine's frame outlives the boot and keeps whatever its locals and
# stack held, which would keep that code in the heap after it is forgotten.


def _open_flash(board, cfg):
    """Mount the flash and count this boot: (store, counters, boot looping); OSError on a flash fault."""
    from firmware.shell import boot

    try:
        store = Store(board.mount_flash(), note)
        counters = store.counters()
        clock.restore(counters.get("wall", 0))
        # The cloud knows records by (boot, seq): a lost counters file must not reuse a boot number.
        boot.record_boot(counters, clock.wall_s(), cfg["SAFE_BOOTS"], store.last_sent()[1])
        looping = boot.boot_loop(counters, cfg["SAFE_BOOTS"], cfg["SAFE_WINDOW_S"])
        if looping:
            counters["boots"] = []
        store.save_counters(counters)
        return store, counters, looping
    finally:
        settings.forget(_BOOT_MODULES)


def _restore(store, cfg):
    """The pile, panel, counters and resumed sessions from the flash (firmware/shell/boot.py)."""
    from firmware.shell import boot

    try:
        return boot.restore_from_flash(store, cfg, clock.now_ms(), clock.wall_s())
    finally:
        settings.forget(_BOOT_MODULES)


def _start_cards(reader, controller, cfg, identity):
    """The card book, and the reader's task (firmware/shell/card_task.py) once the identity gives the
    site's card key; without the key no card can be read, and cards stay off (logged)."""
    # The book stays on flash, and its code out of the heap, until a swipe, a session's end or a command;
    # its settings are kept apart, as ``cfg`` is emptied once the pile runs.
    controller.cards_cfg = {name: cfg[name] for name in _CARD_SETTINGS}
    site_key = identity.get("site_key") if identity is not None else None
    if site_key is None:
        note("cards off: the identity has no site_key")
        return
    from binascii import unhexlify

    from firmware.card.record import pile_tag
    from firmware.shell.card_task import card_loop

    tag = pile_tag(identity["pile"])
    settings.forget(_TAG_MODULES)
    asyncio.create_task(card_loop(reader, controller, unhexlify(site_key), tag))


async def _safe_mode(board, reason):
    from firmware.shell import boot

    await boot.safe_mode(board, reason)


def _config_answer(config_path, store):
    """The answer to the config command this boot applied or refused; None (and an alarm) without the
    room for its code: the answer then waits on flash for the next boot, and the pile runs regardless."""
    gc.collect()
    try:
        from firmware.shell.config_update import take_answer

        return take_answer(config_path, store)
    except MemoryError as error:
        alarm("cloud_fault", detail="config answer delayed: %r" % (error,))
        return None
    finally:
        settings.forget(COMMAND_MODULES)
