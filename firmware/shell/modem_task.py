"""The modem task: the one owner of a board's 4G modem, keeping it registered and the data call up.

Every MODEM_POLL_S it checks the modem (suspending PPP around the AT work),
logs its health, and dials when the modem is registered and the call is
down. Until the network has given the time once, it asks the modem's clock
and sets the pile's from it. The cloud link waits on ``network_up`` and
never talks to the modem.
Nothing ends this task: a failed round is logged and the next one tries again.
"""

import asyncio

from drivers.modem_at import AtError, AtTimeout
from firmware.shell import clock
from firmware.shell.log import alarm, log


async def modem_loop(modem, link, apn, poll_ms):
    """Start the modem, then poll, log and keep the data call up (none without an ``apn``: a pile with
    no identity has no cloud to reach); never returns."""
    while True:
        try:
            await modem.start()
            break
        except (AtError, AtTimeout, OSError) as error:
            log("modem", state="silent", error=repr(error))
            await asyncio.sleep_ms(poll_ms)
    clock_set = False
    while True:
        try:
            await _round(modem, link, apn)
            if not clock_set:
                clock_set = await _set_clock(modem, link)
        except Exception as error:  # noqa: BLE001 - the modem is not a safety part: report, go on
            alarm("modem_fault", detail=repr(error))
        await asyncio.sleep_ms(poll_ms)


async def _set_clock(modem, link):
    """Take the network's time if the modem has it; True once done."""
    try:
        unix_s = await link.at_work(modem.network_time)
    except (AtError, AtTimeout, OSError):
        return False
    if unix_s is None:
        return False
    before = clock.wall_s()
    clock.set_wall(unix_s)
    log("clock", source="network", wall=unix_s, moved_s=unix_s - before)
    return True


async def _round(modem, link, apn):
    try:
        health = await link.at_work(modem.poll)
    except (AtError, AtTimeout, OSError) as error:
        # NO CARRIER when going back to data: the call went while the modem answered.
        log("modem", state="call_lost", error=repr(error))
        health = modem.health()
    if link.isconnected() and not modem.at.data_mode:
        # The call is gone (dropped, or the modem was power-cycled): so is PPP's session on it.
        await link.end_session()
    log("modem", **health)
    if apn is not None and health["registered"] and not link.isconnected():
        try:
            await link.up(apn)
        except (AtError, AtTimeout, OSError) as error:
            log("modem", state="dial_failed", error=repr(error))
