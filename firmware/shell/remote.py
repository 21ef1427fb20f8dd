"""Commands from the cloud acted on: start, stop, config, query, reboot, time, cards, clear
(docs/cloud-protocol.md).

firmware/cloud/commands.py decides whether a command may run; this module
runs it through the controller (so every change to a port goes through the
control path) and leaves the answer in the cloud link's ``answers`` to send.
An answer is remembered on flash before it is sent, so a replayed id gets it
again instead of a second start. The one gap, a cut between a start and its
remembering, is closed by the payment reference: a start whose reference a
running session already has is answered with that session.

Commands come a few times a day, so this module and the decisions are
loaded for each one and dropped again (firmware/shell/cloud.py): their code
is not in the heap the rest of the time. The state they need lives in the
cloud link (``answers``, ``config_version``) and on flash (the ledger).
"""

import asyncio
from binascii import unhexlify

from firmware import prompts
from firmware.cbor import Encoded, encode
from firmware.cloud import commands
from firmware.cloud.commands import (
    ARG_BLOCK,
    ARG_CREDIT,
    ARG_PORT,
    ARG_REF,
    ARG_SETTINGS,
    ARG_SETTLED,
    ARG_UNBLOCK,
    ARG_VERSION,
    DONE,
    FORGED,
    ID,
    ISSUED,
    KIND,
    REFUSED,
)
from firmware.compat import const
from firmware.port import REMOTE
from firmware.shell import clock
from firmware.shell.log import alarm, log
from firmware.version import FIRMWARE_VERSION

_PORT_FAULT = const("port fault")
_PORT_BUSY = const("port busy")
_FAILED = const("failed: %r")
_PORT_IDLE = const("port idle")

_ANSWERS_KEPT = const(8)
_REBOOT_WAIT_MS = const(5000)
_REBOOT_POLL_MS = const(100)
_REBOOT_PUBACK_MS = const(1000)
IDLE_POLL_MS = const(1000)

START_REFUSALS = {
    prompts.INVALID_PORT: "invalid port",
    prompts.PORT_FAULT: _PORT_FAULT,
    prompts.OUT_OF_SERVICE: "out of service",
    prompts.PORT_BUSY: _PORT_BUSY,
}


def handle(link, payload):
    """One message from ``down/cmd`` for the pile of ``link`` (a CloudLink): checked, acted on at most
    once, answered."""
    key = link.identity.get("key")
    if not key:
        _answer(link, 0, FORGED, "pile has no command key", None)
        return
    command, refusal = commands.open_envelope(payload, unhexlify(key), link.pile_id)
    if command is None:
        _answer(link, refusal[0], refusal[1], refusal[2], None)
        return
    command_id = command[ID]
    store = link.store
    ledger = commands.Ledger(store.commands())
    refusal = commands.admit(command, ledger, clock.wall_s())
    if refusal is not None:
        _answer(link, command_id, refusal[0], refusal[1], None)
        return
    try:
        outcome = _run(link, command)
    except Exception as error:  # noqa: BLE001 - a bad command must not end the cloud link
        outcome = REFUSED, _FAILED % (error,), None
    if outcome is None:
        return  # a staged config: answered after the restart that applies it
    result, detail, data = outcome
    ledger.remember(command_id, result, detail)
    try:
        store.save_commands(ledger.record())
    except OSError as error:
        alarm("flash_fault", detail=repr(error))
    _answer(link, command_id, result, detail, data)
    if command[KIND] == "reboot":
        asyncio.create_task(_restart(link, "command", False))


def _answer(link, command_id, result, detail, data):
    log("command", id=command_id, result=result, detail=detail)
    answers = link.answers
    if len(answers) >= _ANSWERS_KEPT:
        answers.pop(0)
    # Encoded now: a burst of answers waiting for the link must not hold a port table each.
    answers.append((command_id, result, detail, None if data is None else Encoded(encode(data))))


def _run(link, command):
    """(result, detail, data) of an admitted command; None when its answer comes after a restart."""
    kind = command[KIND]
    controller = link.controller
    if kind == "start":
        return _start(controller, command[ARG_PORT], command[ARG_CREDIT], command[ARG_REF])
    if kind == "stop":
        return _stop(controller, command[ARG_PORT])
    if kind == "config":
        return _stage_config(link, command[ID], command[ARG_VERSION], command[ARG_SETTINGS])
    if kind == "query":
        pile = controller.pile
        ports = [[port.number, port.state, port.power_w, pile.seconds_left(port)] for port in pile.ports]
        return DONE, "", {0: ports, 1: link.config_version, 2: FIRMWARE_VERSION, 3: link.store.outbox_count()}
    if kind == "time":
        before = clock.wall_s()
        clock.set_wall(command[ISSUED])
        return DONE, "", before
    if kind == "cards":
        return _cards(controller, command[ARG_BLOCK], command[ARG_UNBLOCK], command[ARG_SETTLED])
    if kind == "clear":
        return _clear(controller, command[ARG_PORT])
    return DONE, "", None  # reboot: answered first, then _reboot


def _start(controller, number, fen, ref):
    pile = controller.pile
    port = pile.port(number)
    if port is None:
        return REFUSED, "invalid port", None
    if port.session is not None and port.session.ref == ref:
        return DONE, "already started", port.session.order_no
    if port.busy():
        return REFUSED, _PORT_BUSY, None
    order_no = pile.next_order
    log("remote", start=number, fen=fen, ref=ref)
    now_ms = clock.now_ms()
    prompt = controller.apply(now_ms, "remote start", _pay_by_qr, pile, now_ms, number, fen, ref)
    if prompt == prompts.STARTED or prompt == prompts.QUEUED:
        return DONE, "", order_no
    return REFUSED, START_REFUSALS.get(prompt, "control fault"), None


def _stop(controller, number):
    port = controller.pile.port(number)
    if port is None:
        return REFUSED, "invalid port", None
    if not port.busy():
        return REFUSED, _PORT_IDLE, None
    order_no = port.session.order_no
    log("remote", stop=number)
    now_ms = clock.now_ms()
    controller.apply(now_ms, "remote stop", controller.pile.stop, now_ms, number, REMOTE)
    return DONE, "", order_no


def _clear(controller, number):
    """A manager clears what is latched: smoke and every port's fault (port 0), or one port's fault;
    refused while the smoke detector still reads smoke."""
    pile = controller.pile
    if number and pile.port(number) is None:
        return REFUSED, "invalid port", None
    log("remote", clear=number)
    now_ms = clock.now_ms()
    prompt = controller.apply(now_ms, "remote clear", pile.clear, now_ms, number)
    if prompt == prompts.ALARM_CLEARED:
        return DONE, "", None
    return REFUSED, "smoke still detected" if prompt == prompts.SMOKE_ALARM else "control fault", None


def _cards(controller, block, unblock, settled):
    """The cloud's blacklist change, and the sessions the desk asks to settle on their cards
    (firmware/card/book.py); the answer's data is how many cards are blocked now and the book's answer
    for each of those sessions."""
    if controller.cards_cfg is None:
        return REFUSED, "no card reader", None
    book = controller.open_cards()
    if book is None:
        return REFUSED, "card book not read", None
    try:
        book.block(block, unblock)
        answers = book.settled(settled)
        if not controller.save_cards():
            # A book that would come back from flash still owing: the desk must not pay on this answer.
            return REFUSED, "card book not saved", None
        return DONE, "", [len(book.blocked), answers]
    finally:
        controller.close_cards()


def _pay_by_qr(pile, now_ms, number, fen, ref):
    prompt = pile.pay(now_ms, number, "qr", fen, ref)
    pile.announce(prompt, number, "", now_ms)
    return prompt


def _stage_config(link, command_id, version, changes):
    """Stage a config change for the next boot (firmware/shell/config_update.py checks and applies it
    there) and restart once no port is busy; an old or the applied version is answered at once."""
    if version < link.config_version:
        return REFUSED, "version %d is older than %d" % (version, link.config_version), link.config_version
    if version == link.config_version:
        return DONE, "already applied", version
    if not link.restarting:
        from firmware.shell.config_update import STAGED, write_json

        write_json(link.config_path + STAGED, {"id": command_id, "version": version, "settings": changes})
        asyncio.create_task(_restart(link, "config", True))
    return None


async def _restart(link, reason, when_idle):
    """Restart the pile, sessions saved first: after a reboot's answer has left (or _REBOOT_WAIT_MS), or
    for a staged config once no port is busy (no session is touched by it)."""
    link.restarting = True
    waited_ms = 0
    while link.answers and waited_ms < _REBOOT_WAIT_MS:
        await asyncio.sleep_ms(_REBOOT_POLL_MS)
        waited_ms += _REBOOT_POLL_MS
    await asyncio.sleep_ms(_REBOOT_PUBACK_MS)  # the last answer is in flight: time for its PUBACK
    controller = link.controller
    while when_idle and any(port.busy() for port in controller.pile.ports):
        await asyncio.sleep_ms(IDLE_POLL_MS)
    log("reboot", reason=reason)
    controller.prepare_restart()
    link.board.reset()
