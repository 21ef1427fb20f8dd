"""The boot's own code, forgotten once the pile runs: boots counted, safe mode, and the pile rebuilt
from its flash after a boot, whatever write a power cut interrupted.

The Controller writes records in an order (see its ``_settle``) that leaves
every interrupted step recognisable here:

- a payment whose session write did not finish: ``pending`` in the counters
  names it, no session or order shows it, so its coins go back to the panel;
- coins an order gave back: ``returning`` names the order before it is
  written; if the order made it to the outbox and the credit did not make it
  to the counters, the coins are credited now;
- a session whose order is already in the outbox: the stop finished but for
  removing the file (the Store drops it);
- order numbers: never below the outbox's or any saved session's, so a number
  is never used twice even when the counters write was the one cut.
"""

import asyncio
import gc

from firmware.compat import const
from firmware.frontpanel import FrontPanel
from firmware.pile import Pile
from firmware.resume import resume_sessions
from firmware.shell import clock, settings
from firmware.shell.cloud import COMMAND_MODULES
from firmware.shell.log import alarm, note
from firmware.shell.store import Store

# The card book's settings, kept apart from ``cfg`` (emptied once the pile runs).
_CARD_SETTINGS = const(("CARD_HOLD_FEN", "CARD_MIN_FEN", "CARD_DAY_MAX", "CARD_REPEAT_S"))
# The card layout's code, needed at boot only for the pile's tag; each swipe loads it again.
_TAG_MODULES = const(("firmware.card.record", "firmware.card.value_block", "firmware.mac"))


def _payment_landed(pending, snapshots, store):
    number, order_no, payments = pending[0], pending[1], pending[2]
    for port, snapshot in snapshots:
        if port == number and snapshot.get("no") == order_no and snapshot.get("payments", 0) >= payments:
            return True
    return store.order(order_no) is not None


def restore_from_flash(store, cfg, now_ms, wall_s):
    """(pile, panel, counters, snapshots, refused ports) rebuilt from ``store``; counters saved."""
    counters = store.counters()
    snapshots = store.sessions()
    pile = Pile(cfg, now_ms)
    pile.wall_s = wall_s
    panel = FrontPanel(pile, cfg)
    credit = counters.get("credit_fen", 0)
    pending = counters.get("pending")
    if pending and pending[4] == "coin" and not _payment_landed(pending, snapshots, store):
        credit += pending[3]
    returning = counters.get("returning")
    if returning and store.order(returning[0]) is not None:
        credit += returning[1]
    order_numbers = store.order_numbers()
    panel.credit_fen = credit
    next_order = counters.get("next_order", 1)
    if order_numbers and order_numbers[-1] >= next_order:
        next_order = order_numbers[-1] + 1
    last_sent, _ = store.last_sent()
    if last_sent >= next_order:
        next_order = last_sent + 1
    for _, snapshot in snapshots:
        number = snapshot.get("no")
        if isinstance(number, int) and number >= next_order:
            next_order = number + 1
    latches = counters.get("latches")
    if latches:
        try:
            pile.relatch(latches)
        except (TypeError, ValueError):
            # Smoke and port faults were latched and cannot be read back: stay off until a manager clears.
            pile.relatch([1, []])
    refused = resume_sessions(pile, now_ms, next_order, snapshots)
    for port in refused:
        store.set_aside_session(port)
    counters["next_order"] = pile.next_order
    counters["credit_fen"] = panel.credit_fen
    counters["pending"] = None
    counters["returning"] = None
    counters["wall"] = counters.get("wall", wall_s)
    counters.setdefault("boots", [])
    store.save_counters(counters)
    return pile, panel, counters, snapshots, refused


def record_boot(counters, wall_s, boots_kept, least_boot=0):
    """Count this boot (after ``least_boot`` at least) and keep the wall times of the last ``boots_kept``;
    a restart the pile chose itself (``planned``) is no sign of a boot loop and is not kept."""
    counters["boot"] = max(counters.get("boot", 0), least_boot) + 1
    history = counters.get("boots", [])
    if not counters.pop("planned", False):
        history.append(wall_s)
    counters["boots"] = history[-boots_kept:]


def boot_loop(counters, boots, window_s):
    """True when the last ``boots`` boots all came within ``window_s`` seconds."""
    history = counters["boots"]
    return len(history) >= boots and history[-1] - history[-boots] <= window_s


async def safe_mode(board, reason):
    """Relays off, the fault on the display, and nothing else: the REPL stays reachable."""
    board.relays.all_off()
    alarm("safe_mode", detail=reason)
    try:
        await board.start()
        board.lcd.show(0, "SAFE MODE E8")
        board.lcd.show(1, reason)
        board.lcd.show(2, "Service needed")
        board.lcd.show(3, "")
    except OSError as error:
        alarm("ui_fault", detail=repr(error))


def open_flash(board, cfg):
    """Mount the flash and count this boot: (store, counters, boot looping); OSError on a flash fault."""
    store = Store(board.mount_flash(), note)
    counters = store.counters()
    clock.restore(counters.get("wall", 0))
    # The cloud knows records by (boot, seq): a lost counters file must not reuse a boot number.
    record_boot(counters, clock.wall_s(), cfg["SAFE_BOOTS"], store.last_sent()[1])
    looping = boot_loop(counters, cfg["SAFE_BOOTS"], cfg["SAFE_WINDOW_S"])
    if looping:
        counters["boots"] = []
    store.save_counters(counters)
    return store, counters, looping


def restore(store, cfg):
    """The pile, panel, counters and resumed sessions from the flash (``restore_from_flash``)."""
    return restore_from_flash(store, cfg, clock.now_ms(), clock.wall_s())


def start_cards(reader, controller, cfg, identity):
    """The card book, and the reader's task (firmware/shell/card_task.py) once the identity gives the
    site's card key; without the key no card can be read, and cards stay off (logged)."""
    # The book stays on flash, and its code out of the heap, until a swipe, a session's end or a command.
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


def config_answer(config_path, store):
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
