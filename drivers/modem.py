"""The pile's 4G Cat.1 modem (Quectel EC200/EC800-like, SIMCom A7670-like): bring-up, state, data call.

Drives the modem through an AtEngine: start-up (``AT`` until it answers,
echo off, numeric errors, registration URCs on), the SIM, registration,
signal, operator and network clock, the PPP dial (after CONNECT the UART is
PPP's), ``suspend``/``resume`` around AT work while the call is up, and a
power cycle through PWRKEY when the modem stops answering. ``poll`` is one
health round for the firmware's modem task; ``health`` the summary it logs.
"""

import asyncio

from drivers import modem_replies as replies
from drivers.modem_at import AtError, AtTimeout
from firmware.compat import const

_GUARD_MS = const(1000)  # silence before and after "+++" (the modems' S12 default, 1 s)
_SYNC_TRIES = const(10)
_SYNC_TIMEOUT_MS = const(300)
_MAX_MISSES = const(3)  # unanswered health checks in a row before a power cycle
_QUERY_TIMEOUT_MS = const(1000)
_SIM_TIMEOUT_MS = const(5000)  # AT+CPIN? may take seconds while the SIM initialises
_ESCAPE_TIMEOUT_MS = const(500)  # the OK comes right after the second guard time
_DIAL_TIMEOUT_MS = const(60000)
_HANG_UP_TIMEOUT_MS = const(10000)
_PDP_CONTEXT = const(1)

# PWRKEY timing (Quectel EC200U/EC800N hardware designs; check the module fitted).
_POWER_ON_PRESS_MS = const(600)  # low >= 500 ms switches an off module on
_POWER_OFF_PRESS_MS = const(3500)  # low >= 3 s switches a running module off
_SHUTDOWN_WAIT_MS = const(12000)  # network detach and power-down, until POWERED DOWN
_OFF_SETTLE_MS = const(1000)  # after POWERED DOWN, before pressing again
_BOOT_WAIT_MS = const(15000)  # power-on to RDY

_CME_SIM_NOT_INSERTED = const(10)

# The commands and answer prefixes as private constants: a short str written in code would be an
# interned name for good (README, "Memory").
_AT = const("AT")
_ECHO_OFF = const("ATE0")
_NUMERIC_ERRORS = const("AT+CMEE=1")
_CREG_URCS = const("AT+CREG=1")
_CEREG_URCS = const("AT+CEREG=1")
_ASK_SIM = const("AT+CPIN?")
_SIM = const("+CPIN:")
_ASK_CEREG = const("AT+CEREG?")
_CEREG = const("+CEREG:")
_ASK_CREG = const("AT+CREG?")
_CREG = const("+CREG:")
_ASK_SIGNAL = const("AT+CSQ")
_SIGNAL = const("+CSQ:")
_ASK_OPERATOR = const("AT+COPS?")
_OPERATOR = const("+COPS:")
_ASK_CLOCK = const("AT+CCLK?")
_CLOCK = const("+CCLK:")
_DIAL = const("ATD*99#")
_BACK_TO_DATA = const("ATO")
_HANG_UP = const("ATH")
_BOOTED = const("RDY")
_NO_ANSWER = const("no answer")
_ABSENT = const("absent")


class PowerKey:
    """The modem's PWRKEY, pulled low through the board's transistor when the GPIO is at ``active``.

    The press and wait times are parameters so the virtual pile's tests can
    run a power cycle in a fraction of a second; the defaults are the
    module's.
    """

    def __init__(
        self,
        pin,
        active=1,
        on_press_ms=_POWER_ON_PRESS_MS,
        off_press_ms=_POWER_OFF_PRESS_MS,
        shutdown_ms=_SHUTDOWN_WAIT_MS,
        settle_ms=_OFF_SETTLE_MS,
        boot_ms=_BOOT_WAIT_MS,
    ):
        self.pin = pin
        self.active = active
        self.on_press_ms = on_press_ms
        self.off_press_ms = off_press_ms
        self.shutdown_ms = shutdown_ms
        self.settle_ms = settle_ms
        self.boot_ms = boot_ms
        pin.value(1 - active)

    async def press(self, hold_ms):
        """Hold the key down for ``hold_ms``, then let it go."""
        self.pin.value(self.active)
        try:
            await asyncio.sleep_ms(hold_ms)
        finally:
            self.pin.value(1 - self.active)


class Modem:
    """One modem on one AtEngine; ``power_key`` (a PowerKey) is optional, without it a stuck modem stays stuck.

    Query methods raise AtError (AtTimeout) and remember the failure in
    ``last_error``; ``poll`` never raises.
    """

    def __init__(self, at, power_key=None, guard_ms=_GUARD_MS, max_misses=_MAX_MISSES, sync_tries=_SYNC_TRIES):
        self.at = at
        self.power_key = power_key
        self.guard_ms = guard_ms
        self.max_misses = max_misses
        self.sync_tries = sync_tries
        self.on_urc = None
        self.sim_state = None
        self.reg = replies.REG_UNKNOWN
        self.rssi_dbm = None
        self.operator_name = None
        self.misses = 0
        self.power_cycles = 0
        self.last_error = None
        self._power_event = asyncio.Event()
        self._power_urc = None
        at.on_urc = self._urc

    async def start(self):
        """Talk to the modem: ``AT`` until it answers (pressing PWRKEY if it never does), then
        echo off, numeric +CME errors, registration URCs on. AtTimeout if it stays silent."""
        if not await self._sync():
            await self._power_sequence()
            if not await self._sync():
                self.last_error = "AT: no answer"
                raise AtTimeout(_AT, _NO_ANSWER)
        await self._ask(_ECHO_OFF)
        await self._ask(_NUMERIC_ERRORS)
        await self._ask(_CREG_URCS)
        try:
            await self._ask(_CEREG_URCS)
        except AtError:
            pass  # a module without LTE has no CEREG; CREG still reports

    async def sim(self):
        """The SIM's state: "ready", "pin" (a PIN is needed), "absent", or the modem's words."""
        try:
            lines = await self._ask(_ASK_SIM, _SIM_TIMEOUT_MS, _SIM)
            self.sim_state = replies.sim_state(lines[0]) if lines else None
        except AtError as error:
            if error.code != _CME_SIM_NOT_INSERTED:
                raise
            self.sim_state = _ABSENT
        return self.sim_state

    async def registration(self):
        """The registration state (a modem_replies REG_ value): LTE (CEREG) first, else CREG."""
        stat = None
        try:
            stat = await self._registration(_ASK_CEREG, _CEREG)
        except AtTimeout:
            raise
        except AtError:
            pass  # no LTE on this module: CREG alone
        if not replies.is_registered(stat):
            other = await self._registration(_ASK_CREG, _CREG)
            if replies.is_registered(other) or stat is None:
                stat = other
        self.reg = replies.REG_UNKNOWN if stat is None else stat
        return self.reg

    async def signal_dbm(self):
        """Received signal strength in dBm, None when the modem does not know."""
        lines = await self._ask(_ASK_SIGNAL, _QUERY_TIMEOUT_MS, _SIGNAL)
        self.rssi_dbm = replies.rssi_dbm(lines[0]) if lines else None
        return self.rssi_dbm

    async def operator(self):
        """The operator's name, None when not registered."""
        lines = await self._ask(_ASK_OPERATOR, _QUERY_TIMEOUT_MS, _OPERATOR)
        self.operator_name = replies.operator(lines[0]) if lines else None
        return self.operator_name

    async def network_time(self):
        """Unix seconds (UTC) from the network's clock (NITZ), None if the network never sent it."""
        lines = await self._ask(_ASK_CLOCK, _QUERY_TIMEOUT_MS, _CLOCK)
        return replies.clock_unix_s(lines[0]) if lines else None

    async def dial(self, apn, timeout_ms=_DIAL_TIMEOUT_MS):
        """Define PDP context 1 on ``apn`` and dial it; after CONNECT the UART carries PPP.

        AtError (NO CARRIER, +CME ERROR) when the network refuses.
        """
        await self._ask('AT+CGDCONT=%d,"IP","%s"' % (_PDP_CONTEXT, apn))
        await self._ask(_DIAL, timeout_ms, connect=True)

    async def suspend(self):
        """Back to command mode with the call kept up: ``+++`` between two guard times.

        If no OK comes, the call may have dropped already (the modem is then
        in command mode): one ``AT`` decides, AtTimeout if that is unanswered.
        """
        try:
            await self.at.escape(self.guard_ms, _ESCAPE_TIMEOUT_MS)
        except AtTimeout:
            await self._ask(_AT, _SYNC_TIMEOUT_MS)

    async def resume(self):
        """Back to the data call (``ATO`` -> CONNECT). AtError NO CARRIER if the call has gone."""
        await self._ask(_BACK_TO_DATA, _QUERY_TIMEOUT_MS, connect=True)

    async def hang_up(self):
        """End the data call, from command mode (after ``suspend``)."""
        await self._ask(_HANG_UP, _HANG_UP_TIMEOUT_MS)

    async def power_cycle(self):
        """Switch the modem off and on through PWRKEY, then ``start`` it again."""
        self.power_cycles += 1
        await self._power_sequence()
        await self.start()

    async def poll(self):
        """One health round: is the modem answering (a power cycle after ``max_misses`` silent
        rounds), then SIM, registration, signal and operator. Returns ``health()``; never raises.

        In data mode there is nothing to ask without ``suspend`` first (on a
        board with PPP, ``PppLink.at_work`` does that around this call).
        """
        if self.at.data_mode:
            return self.health()
        try:
            await self._ask(_AT, _SYNC_TIMEOUT_MS)
            self.misses = 0
            await self.sim()
            await self.registration()
            await self.signal_dbm()
            await self.operator()
        except AtTimeout:
            self.misses += 1
            if self.misses >= self.max_misses:
                self.misses = 0
                try:
                    await self.power_cycle()
                except AtError as error:
                    self.last_error = str(error)
        except AtError:
            pass  # already in last_error
        return self.health()

    def health(self):
        """A summary for the health log."""
        return {
            "registered": replies.is_registered(self.reg),
            "reg": self.reg,
            "rssi_dbm": self.rssi_dbm,
            "operator": self.operator_name,
            "sim": self.sim_state,
            "data": self.at.data_mode,
            "misses": self.misses,
            "power_cycles": self.power_cycles,
            "rejected": self.at.rejected,
            "last_error": self.last_error,
        }

    async def _ask(self, command, timeout_ms=_QUERY_TIMEOUT_MS, expect=None, connect=False):
        try:
            return await self.at.command(command, timeout_ms, expect, connect)
        except AtError as error:
            self.last_error = str(error)
            raise

    async def _registration(self, command, prefix):
        lines = await self._ask(command, _QUERY_TIMEOUT_MS, prefix)
        return replies.registration(lines[0], prefix) if lines else None

    async def _sync(self):
        for _ in range(self.sync_tries):
            try:
                await self.at.command(_AT, _SYNC_TIMEOUT_MS)
                return True
            except AtTimeout:
                pass
            except AtError:
                return True  # an ERROR is an answer: the line is alive
        return False

    async def _power_sequence(self):
        """A long press switches a running modem off (or an off one on); if it went down, a short press
        switches it on. Ends once RDY came or the boot wait is over; ``start`` then syncs."""
        key = self.power_key
        if key is None:
            return
        self.at.reset()
        self._power_event.clear()
        self._power_urc = None
        await key.press(key.off_press_ms)
        await self._power_wait(key.shutdown_ms)
        if self._power_urc == _BOOTED:
            return  # it was off, and that press switched it on
        await asyncio.sleep_ms(key.settle_ms)
        self._power_event.clear()
        self._power_urc = None
        await key.press(key.on_press_ms)
        await self._power_wait(key.boot_ms)

    async def _power_wait(self, timeout_ms):
        try:
            await asyncio.wait_for_ms(self._power_event.wait(), timeout_ms)
        except asyncio.TimeoutError:  # noqa: UP041 - MicroPython has no builtin TimeoutError
            pass  # a stuck modem may say nothing on the way down

    def _urc(self, text):
        stat = replies.urc_registration(text)
        if stat is not None:
            self.reg = stat
        elif text == _BOOTED or text == "POWERED DOWN":
            self._power_urc = text
            self._power_event.set()
        elif text.startswith(_SIM):
            self.sim_state = replies.sim_state(text)
        if self.on_urc is not None:
            self.on_urc(text)
