"""The modem task: the one owner of a board's 4G modem, keeping it registered and the data call up.

Every MODEM_POLL_S it runs one round (firmware/shell/modem_round.py): start
the modem until it answers, check it, log its health, dial when it is
registered and the call is down. The round's code and the modem's drivers
are loaded for the round and forgotten after it, into a heap cleared of
garbage first; what must last lives on the board's ModemLine. A round that
finds no room for its code is logged and the next one tries again. The cloud
link waits on the line's PPP session and never talks to the modem.
Nothing ends this task.

The alarm texts (``AlarmTexts``) wait here for the modem: smoke and cabinet
heat, texted by the pile itself. The control path queues an alarm (``queue``,
no I/O, nothing loaded); the modem task wakes on ``ready`` and its round sends
what is due (firmware/shell/sms_round.py), with or without the cloud. A text
goes to each of SMS_NUMBERS; a number that was not reached is tried again
every SMS_RETRY_S, SMS_TRIES times in all. The same alarm is not queued again
within SMS_REPEAT_S, so a sensor that flaps cannot run up an SMS storm.
"""

import asyncio
import gc

from firmware.compat import const
from firmware.shell.log import alarm
from firmware.shell.settings import forget
from firmware.ticks import NEVER, since_ms

_MODEM_MODULES = const(
    (
        "firmware.shell.modem_round",
        "firmware.shell.sms_round",
        "drivers.modem_sms",
        "firmware.sms_pdu",
        "drivers.modem",
        "drivers.modem_at",
        "drivers.modem_ppp",
        "drivers.modem_replies",
    )
)


# The alarms the pile texts itself (the bridge texts the rest, and these again to numbers the pile missed).
TEXTED = ("smoke", "heat")


class AlarmTexts:
    """The texts not yet sent: each [alarm, port, detail, wall_s, numbers left, tries, last try ms]."""

    def __init__(self, cfg, pile_id):
        self.numbers = cfg["SMS_NUMBERS"]
        self.site = cfg["SMS_SITE"]
        self.pile_id = pile_id
        self.retry_ms = cfg["SMS_RETRY_S"] * 1000
        self.tries = cfg["SMS_TRIES"]
        self.repeat_ms = cfg["SMS_REPEAT_S"] * 1000
        self.pending = []
        self.ready = asyncio.Event()
        self._queued_ms = {}  # alarm -> when it was last queued

    def queue(self, name, port, detail, now_ms, wall_s):
        """An alarm was raised: text it unless it was texted within SMS_REPEAT_S (or nobody is listed)."""
        if name not in TEXTED or not self.numbers:
            return
        last_ms = self._queued_ms.get(name, NEVER)
        if last_ms != NEVER and since_ms(now_ms, last_ms) < self.repeat_ms:
            return
        self._queued_ms[name] = now_ms
        self.pending.append([name, port, detail, wall_s, list(self.numbers), 0, NEVER])
        self.ready.set()

    def due(self, now_ms):
        """The pending texts whose next try is due now."""
        return [text for text in self.pending if text[6] == NEVER or since_ms(now_ms, text[6]) >= self.retry_ms]


async def modem_loop(line, apn, poll_ms, texts):
    """One round on ``line`` (drivers/modem_line.py) every ``poll_ms``, and at once when ``texts`` (the
    alarm texts, ``AlarmTexts``) has one queued; a text not sent is tried again at its
    next round, within SMS_RETRY_S. Never returns. Without an ``apn`` (a pile with no identity has no
    cloud to reach) the modem is kept up but never dials."""
    while True:
        texts.ready.clear()
        gc.collect()
        try:
            from firmware.shell import modem_round

            try:
                await modem_round.run(line, apn, texts)
            finally:
                # This task's frame lives for ever: the module left in one of its locals would keep every
                # driver in the heap after forget().
                del modem_round
        except MemoryError as error:
            alarm("modem_fault", detail="round skipped: %r" % (error,))
        finally:
            forget(_MODEM_MODULES)
        try:
            await asyncio.wait_for_ms(texts.ready.wait(), min(poll_ms, texts.retry_ms) if texts.pending else poll_ms)
        except asyncio.TimeoutError:  # noqa: UP041 - MicroPython has no builtin TimeoutError
            pass
