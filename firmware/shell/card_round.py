"""One swipe: the card read, the swipe's plan (firmware/card/swipe.py), the card written, the plan kept.

Every change to the core goes through the controller, so relays and records
settle after it as after a key press. The card is written before the pile
commits to anything, and the pile commits only once the card reads back
whole. A start's order number and the refund of its hold are on flash before
the card is written, so a card pulled mid-write, or a start refused once the
card holds its marker, gets its hold back at the next swipe (at once, for the
refusal: the round plans again).
"""

from firmware import prompts
from firmware.card import swipe
from firmware.card.on_reader import GONE, KEY, read_record, write_record
from firmware.card.record import PREPAID, day_of
from firmware.compat import const
from firmware.port import CARD
from firmware.shell.clock import now_ms, wall_s
from firmware.shell.log import alarm
from firmware.spoken import yuan_clips

# A stop, then putting its settlement on the card; or a start the port refused once the card was
# written, then giving the card its money back.
_PLANS_MAX = const(3)


async def run(reader, uid, uid_hex, controller, book, site_key, tag):
    """Serve the card ``uid`` (selected on ``reader``) at the pile tagged ``tag``, with the card ``book``
    the card task opened for the round."""
    pile = controller.pile
    blocks = [bytearray(16) for _ in range(6)]
    for _ in range(_PLANS_MAX):
        record, slot, reason = await read_record(reader, uid, site_key, blocks)
        if reason == GONE:
            return
        now = now_ms()
        plan = controller.apply(
            now, "card", swipe.plan, pile, controller.panel, book, uid_hex, record, reason, tag, day_of(wall_s()), now
        )
        if plan is None:
            return
        prompt, number, value, written, start = plan
        if prompt == swipe.STOP:
            controller.apply(now, "card", pile.stop, now, number, CARD)
            continue
        if written is None:
            if prompt == prompts.CARD_REFUSED or prompt == prompts.CARD_BLOCKED or reason == KEY:
                alarm("card_refused", detail=value, card=uid_hex)
            controller.apply(now, "card", pile.announce, prompt, number, value, now)
            if prompt == prompts.CARD_BALANCE and record.kind == PREPAID:
                controller.voice_queue.append(yuan_clips(record.balance_fen))
            return
        # What the card is owed if this write is all that happens (a start's hold) is on flash first.
        controller.save_cards()
        if not await write_record(reader, uid, site_key, written, 1 - slot, blocks):
            now = now_ms()
            controller.apply(now, "card", pile.announce, prompts.CARD_AGAIN, number, "", now)
            return
        now = now_ms()
        result = controller.apply(
            now, "card", swipe.commit, pile, controller.panel, book, uid_hex, written, number, start, now
        )
        controller.save_cards()
        controller.apply(now, "card", pile.announce, result or prompt, number, value, now)
        if start is None or result in (prompts.STARTED, prompts.QUEUED, prompts.FREE_STARTED):
            return
