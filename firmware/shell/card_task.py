"""The card reader's task: notices each card put on the reader and hands it to a card round.

Every _POLL_MS it wakes any card in the field (WUPA, which also answers a
halted card) and selects it. A new card gets a round (firmware/shell/
card_round.py): read, decide, write, commit. A card left lying on the reader
is halted again and gets no second round, unless the resident has since
chosen a port for it. The round's code is loaded for the swipe and forgotten
after it, into a heap cleared of garbage first, as the modem round's is.
Nothing ends this task; a reader that stops answering is reported and tried
again later, and charging goes on.
"""

import asyncio
import gc
from binascii import hexlify

from drivers.mfrc522 import WUPA
from firmware.compat import const
from firmware.shell.log import alarm
from firmware.shell.settings import forget

_POLL_MS = const(250)
_FAULT_RETRY_MS = const(5000)
_ROUND_MODULES = const(
    (
        "firmware.shell.card_round",
        "firmware.card.on_reader",
        "firmware.card.swipe",
        "firmware.card.record",
        "firmware.card.value_block",
        "firmware.mac",
        "firmware.spoken",
    )
)


async def card_loop(reader, controller, site_key, tag):
    """Watch the reader for ever; ``site_key`` signs the site's cards, ``tag`` names this pile on them."""
    present = None
    ready = False
    while True:
        await asyncio.sleep_ms(_POLL_MS)
        try:
            if not ready:
                reader.reset()
                ready = True
            uid = await _card_in_field(reader)
            if uid is None:
                present = None
                continue
            panel = controller.panel
            # A card lying on the reader is polled every _POLL_MS: its hex only when it may get a round.
            if uid != present or (panel.port and panel.card == hexlify(uid).decode()):
                present = uid
                await _round(reader, uid, controller, site_key, tag)
            await reader.halt()
            reader.stop_crypto()
        except Exception as error:  # noqa: BLE001 - a reader fault (OSError) or a bug: cards wait, charging goes on
            alarm("card_fault", detail=repr(error))
            ready = False
            present = None
            await asyncio.sleep_ms(_FAULT_RETRY_MS)


async def _card_in_field(reader):
    """The UID of the card in the field, selected; None if there is none (or it left mid-way)."""
    if not await reader.request(WUPA):
        return None
    uid = await reader.anticollision()
    if uid is None or await reader.select(uid) is None:
        return None
    return uid


async def _round(reader, uid, controller, site_key, tag):
    gc.collect()
    # The book's tables first, while the heap has its largest holes: the round's code fits around them.
    book = controller.open_cards()
    if book is None:
        return
    try:
        from firmware.shell import card_round

        try:
            await card_round.run(reader, uid, hexlify(uid).decode(), controller, book, site_key, tag)
        finally:
            # This task's frame lives for ever: the module left in a local would keep the round's code.
            del card_round
    except MemoryError as error:
        alarm("card_fault", detail="swipe skipped: %r" % (error,))
    finally:
        controller.close_cards()
        forget(_ROUND_MODULES)
