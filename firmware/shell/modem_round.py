"""One round of the modem task, loaded for the round and forgotten after it (firmware/shell/modem_task.py).

The modem's drivers are built on the board's ModemLine (drivers/modem_line.py)
with the state the last round left. Until the modem has answered, a round
only tries to start it. Then each round checks the modem (suspending PPP
around the AT work), logs its health, dials when the modem is registered and
the call is down, and, until the network has given the time once, sets the
pile's clock from the modem's. The drivers' state goes back on the line and
the AT reader stops, so nothing of the drivers outlives the round. The cloud
link never talks to the modem; it waits on the line's PPP session.
"""

from drivers.modem import Modem, PowerKey
from drivers.modem_at import AtEngine, AtError, AtTimeout
from drivers.modem_ppp import PppLink
from firmware.compat import const
from firmware.shell import clock
from firmware.shell.clock import now_ms
from firmware.shell.log import alarm, log

# What the drivers remember from one round to the next.
_AT_STATE = const(("data_mode", "rejected", "stray", "urcs"))
_MODEM_STATE = const(("sim_state", "reg", "rssi_dbm", "operator_name", "misses", "power_cycles", "last_error"))


async def run(line, apn, texts):
    """One round on ``line`` (no dialling without an ``apn``: a pile with no identity has no cloud to
    reach), sending the alarm texts that are due (``texts``: firmware/shell/modem_task.py). Never
    raises: a failed round is logged and the next one tries again."""
    at = AtEngine(line.uart)
    modem = Modem(at, PowerKey(line.power_pin))
    link = PppLink(modem, line.uart, line.ppp_class, line.ppp)
    if line.saved is not None:
        _restore(at, _AT_STATE, line.saved[0])
        _restore(modem, _MODEM_STATE, line.saved[1])
    try:
        if not line.started:
            try:
                await modem.start()
            except (AtError, AtTimeout, OSError) as error:
                log("modem", state="silent", error=repr(error))
                return
            line.started = True
        due = texts.due(now_ms())
        if due:
            from firmware.shell.sms_round import send_due

            await link.at_work(lambda: send_due(modem, texts, due))
        await _check(modem, link, apn)
        if not line.clock_set:
            line.clock_set = await _set_clock(modem, link)
    except Exception as error:  # noqa: BLE001 - the modem is not a safety part: report, go on
        alarm("modem_fault", detail=repr(error))
    finally:
        line.saved = (_state(at, _AT_STATE), _state(modem, _MODEM_STATE))
        line.ppp = link.ppp
        at.close()


def _state(part, names):
    return tuple(getattr(part, name) for name in names)


def _restore(part, names, values):
    for index in range(len(names)):
        setattr(part, names[index], values[index])


async def _check(modem, link, apn):
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
