"""The modem task: the one owner of a board's 4G modem, keeping it registered and the data call up.

Every MODEM_POLL_S it runs one round (firmware/shell/modem_round.py): start
the modem until it answers, check it, log its health, dial when it is
registered and the call is down. The round's code and the modem's drivers
are loaded for the round and forgotten after it, into a heap cleared of
garbage first; what must last lives on the board's ModemLine. A round that
finds no room for its code is logged and the next one tries again. The cloud
link waits on the line's PPP session and never talks to the modem.
Nothing ends this task.
"""

import asyncio
import gc

from firmware.compat import const
from firmware.shell.log import alarm
from firmware.shell.settings import forget

_MODEM_MODULES = const(
    (
        "firmware.shell.modem_round",
        "drivers.modem",
        "drivers.modem_at",
        "drivers.modem_ppp",
        "drivers.modem_replies",
    )
)


async def modem_loop(line, apn, poll_ms):
    """One round on ``line`` (drivers/modem_line.py) every ``poll_ms``; never returns. Without an ``apn``
    (a pile with no identity has no cloud to reach) the modem is kept up but never dials."""
    while True:
        gc.collect()
        try:
            from firmware.shell import modem_round

            try:
                await modem_round.run(line, apn)
            finally:
                # This task's frame lives for ever: the module left in one of its locals would keep every
                # driver in the heap after forget().
                del modem_round
        except MemoryError as error:
            alarm("modem_fault", detail="round skipped: %r" % (error,))
        finally:
            forget(_MODEM_MODULES)
        await asyncio.sleep_ms(poll_ms)
