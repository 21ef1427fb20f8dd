"""A 4G Cat.1 modem (Quectel EC200U-like) on the world's end of the modem UART.

It answers the AT commands the pile's modem driver uses, framed as the module
frames them ("\\r\\n<line>\\r\\n"), echoes until ATE0, reports errors as plain
ERROR, numeric or verbose +CME/+CMS after AT+CMEE, and sends URCs at any
moment (registration changes once enabled, RDY after power-up). After CONNECT
it is in data mode: bytes are data, "+++" between two guard times returns to
commands with OK, ATO goes back with CONNECT. It takes SMS in PDU mode
(AT+CMGS=<length>, the "> " prompt, the PDU in hex, Ctrl-Z; the SMS side is
boards/sim/world/modem_sms.py) and keeps them decoded: ``texts()`` gives back
the recipients and whole texts it was asked to send. ``hang()`` makes it stop
answering, as a stuck module does, until a power cycle through PWRKEY
(``power_key``, or a pin on the pin bus through ``pwrkey_output``). Every
command line received is logged in ``commands``.

Tests set the network side directly: SIM, registration, signal, operator,
network time.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Self

from boards.sim.world.modem_sms import (
    CMS_OPERATION_NOT_ALLOWED,
    CMS_SIM_NOT_INSERTED,
    CMS_TEXT,
    CTRL_Z,
    ESC,
    Sms,
    SmsInput,
)
from boards.sim.world.sms_pdu_decode import Message

GUARD_S = 1.0
BOOT_S = 3.0  # power-on to RDY
POWER_ON_PRESS_S = 0.5  # PWRKEY held this long switches an off module on
POWER_OFF_PRESS_S = 3.0  # PWRKEY held this long (and released) switches a running module off
SHUTDOWN_S = 1.0  # network detach before the module is off
COMMAND_MAX_CHARS = 560  # the module's command line buffer
CR = 0x0D
LF = 0x0A
CONNECT = "CONNECT 150000000"
IDENTITY = ["Quectel", "EC200U", "Revision: EC200UCNAAR03A01M08"]
# The module's RTC before the network sets it.
RTC_UNSET = datetime(1980, 1, 6, tzinfo=UTC)
READ_CHUNK_BYTES = 4096
CME_TEXT = {
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    11: "SIM PIN required",
    16: "incorrect password",
    30: "no network service",
    50: "incorrect parameters",
}
REGISTERED = (1, 5)


class ModemEmulator:
    """The modem on ``path`` (the device end of a SerialLink, or any tty path).

    Use as ``async with ModemEmulator(path) as modem:`` or ``start()`` / ``close()``.
    Timing parameters are in seconds; tests shorten them.
    """

    def __init__(
        self,
        path: str,
        *,
        guard_s: float = GUARD_S,
        boot_s: float = BOOT_S,
        power_on_press_s: float = POWER_ON_PRESS_S,
        power_off_press_s: float = POWER_OFF_PRESS_S,
        shutdown_s: float = SHUTDOWN_S,
        powered: bool = True,
        pwrkey_active: int = 1,
    ) -> None:
        """A modem that is running (``powered``) or off until PWRKEY switches it on."""
        self.path = path
        self.guard_s = guard_s
        self.boot_s = boot_s
        self.power_on_press_s = power_on_press_s
        self.power_off_press_s = power_off_press_s
        self.shutdown_s = shutdown_s
        self.pwrkey_active = pwrkey_active
        # The network side.
        self.sim = "ready"  # "ready", "pin" or "absent"
        self.pin = "1234"
        self.cereg_stat = 1
        self.creg_stat = 1
        self.rssi = 20
        self.ber = 99
        self.operator = "CHINA MOBILE"
        self.network_time_s: float | None = None
        self.tz_quarters = 32
        self._time_set_at = 0.0
        # The module.
        self.state = "on" if powered else "off"  # "off", "booting", "on", "shutting_down"
        self.hung = False
        self.answer_delay_s = 0.0
        self.contexts: dict[int, tuple[str, str]] = {}
        self.commands: list[str] = []
        self.sms_input = SmsInput()
        self.data_received = bytearray()
        self.boots = 0
        self.power_downs = 0
        self.presses: list[float] = []  # how long PWRKEY was held, each time, in seconds
        self.overrun_bytes = 0
        self._reset_settings()
        self._booted_at = time.monotonic()
        self._line = bytearray()
        self._inject = b""
        self._held_urcs: list[str] = []
        self._plus = 0
        self._last_data_t = 0.0
        self._press_t: float | None = None
        self._press_found_on = False
        self._escape_timer: asyncio.TimerHandle | None = None
        self._on_timer: asyncio.TimerHandle | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self._fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _reset_settings(self) -> None:
        # What a power-up restores; PDP contexts stay in the module's NV memory.
        self.echo = True
        self.cmee = 0
        self.creg_n = 0
        self.cereg_n = 0
        self.cmgf = 0
        self.call_active = False
        self.data_mode = False
        self.sms_input.reset()
        self._plus = 0

    # -- wiring ---------------------------------------------------------------------------

    def start(self) -> None:
        """Open the tty and begin answering; call from inside the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self._loop.add_reader(self._fd, self._readable)

    def close(self) -> None:
        """Stop answering and close the tty. Safe to call twice."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._fd is not None and self._loop is not None:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
        self._fd = None

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.close()

    # -- what tests and the world control ------------------------------------------------

    @property
    def sms(self) -> list[Sms]:
        """Every SMS the modem sent, one per PDU (a part of a concatenated message is one)."""
        return self.sms_input.sent

    def texts(self) -> list[Message]:
        """The messages sent, each with its recipient and whole text (concatenated parts joined)."""
        return self.sms_input.texts()

    def set_registration(self, stat: int, creg_stat: int | None = None) -> None:
        """Set the LTE (CEREG) and circuit (CREG, default the same) registration; URCs follow if enabled."""
        creg_stat = stat if creg_stat is None else creg_stat
        if stat != self.cereg_stat and self.cereg_n:
            self.emit("+CEREG: %d" % stat)
        if creg_stat != self.creg_stat and self.creg_n:
            self.emit("+CREG: %d" % creg_stat)
        self.cereg_stat = stat
        self.creg_stat = creg_stat

    def set_network_time(self, unix_s: float | None, tz_quarters: int = 32) -> None:
        """The network's time now (None: the network never sent one) and zone in quarter hours."""
        self.network_time_s = unix_s
        self.tz_quarters = tz_quarters
        self._time_set_at = time.monotonic()

    def hang(self) -> None:
        """Stop answering anything, as a stuck module does, until it is power-cycled."""
        self.hung = True

    def emit(self, urc: str) -> None:
        """Send an unsolicited result code now (held back in data mode and while an SMS is typed)."""
        if not self._answering():
            return
        if self.data_mode or self.sms_input.typing:
            self._held_urcs.append(urc)
        else:
            self._write(b"\r\n%s\r\n" % urc.encode())

    def send_raw(self, data: bytes) -> None:
        """Put bytes on the line as they are (noise, an over-long line), whatever the state."""
        self._write(data)

    def inject_in_next_answer(self, data: bytes) -> None:
        """Put ``data`` into the next answer, after its information lines and before its final result."""
        self._inject = data

    def send_data(self, data: bytes) -> None:
        """In data mode, bytes from the network to the pile (PPP frames)."""
        if self.data_mode:
            self._write(data)

    def drop_call(self) -> None:
        """The network ends the data call: NO CARRIER, back to command mode."""
        if self.call_active:
            self.call_active = False
            self.data_mode = False
            self._reply([], "NO CARRIER")
            self._flush_held_urcs()

    def power_loss(self) -> None:
        """The supply goes: the module is off at once, and stays off until PWRKEY switches it on."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self.state = "off"
        self.hung = False
        self._press_t = None
        self._on_timer = None
        self._escape_timer = None
        self._reset_settings()

    def power_key(self, pressed: bool) -> None:
        """PWRKEY pulled low (``pressed``) or let go.

        Held ``power_on_press_s`` while off, the module starts (RDY after
        ``boot_s``); held ``power_off_press_s`` while running and let go, it
        shuts down (POWERED DOWN after ``shutdown_s``) — stuck or not, since
        the power key is the PMIC's, not the firmware's.
        """
        now = time.monotonic()
        if pressed and self._press_t is None:
            self._press_t = now
            self._press_found_on = self.state == "on"
            if self.state == "off":
                self._on_timer = self._later(self.power_on_press_s, self._power_on)
        elif not pressed and self._press_t is not None:
            held = now - self._press_t
            self._press_t = None
            self.presses.append(held)
            if self._on_timer is not None:
                self._on_timer.cancel()  # let go too early, or it has fired already
                self._timers.discard(self._on_timer)
                self._on_timer = None
            if self._press_found_on and self.state == "on" and held >= self.power_off_press_s:
                self.state = "shutting_down"
                self._later(self.shutdown_s, self._powered_down)

    def pwrkey_output(self, _gpio: int, level: int, _t: float) -> None:
        """PinWire ``on_output`` callback for the GPIO that drives PWRKEY (through a transistor)."""
        self.power_key(level == self.pwrkey_active)

    # -- power ----------------------------------------------------------------------------

    def _power_on(self) -> None:
        self._on_timer = None
        self.state = "booting"
        self.hung = False
        self._reset_settings()
        self._line.clear()
        self._later(self.boot_s, self._booted)

    def _booted(self) -> None:
        self.state = "on"
        self.boots += 1
        self._booted_at = time.monotonic()
        self.emit("RDY")
        self.emit("+CFUN: 1")
        self.emit("+CPIN: %s" % {"ready": "READY", "pin": "SIM PIN"}.get(self.sim, "NOT INSERTED"))

    def _powered_down(self) -> None:
        if not self.hung:
            self._write(b"\r\nPOWERED DOWN\r\n")
        self.state = "off"
        self.power_downs += 1
        self.hung = False
        self._reset_settings()

    # -- the line -------------------------------------------------------------------------

    def _answering(self) -> bool:
        return self.state == "on" and not self.hung

    def _readable(self) -> None:
        if self._fd is None:
            return
        try:
            data = os.read(self._fd, READ_CHUNK_BYTES)
        except BlockingIOError:
            return
        if not data or not self._answering():
            return
        now = time.monotonic()
        for byte in data:
            if self.sms_input.typing:
                self._sms_byte(byte)
            elif self.data_mode:
                self._data_byte(byte, now)
            else:
                self._command_byte(byte)

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            return
        try:
            written = os.write(self._fd, data)
        except BlockingIOError:
            written = 0
        self.overrun_bytes += len(data) - written

    def _later(self, delay_s: float, callback, *args) -> asyncio.TimerHandle:
        def fire() -> None:
            self._timers.discard(handle)
            callback(*args)

        assert self._loop is not None, "start() first"
        handle = self._loop.call_later(delay_s, fire)
        self._timers.add(handle)
        return handle

    def _command_byte(self, byte: int) -> None:
        if self.echo:
            self._write(bytes((byte,)))
        if byte == LF:
            return
        if byte != CR:
            self._line.append(byte)
            return
        text = self._line.decode("latin-1").strip()
        self._line.clear()
        start = text.upper().find("AT")
        if start < 0:
            return  # the module waits for "AT"; anything before it is noise
        text = text[start:]
        self.commands.append(text)
        if len(text) > COMMAND_MAX_CHARS:
            self._reply([], "ERROR")
            return
        answer = self._execute(text[2:])
        if answer is not None:
            self._reply(*answer)

    def _reply(self, info: list[str], final: str) -> None:
        data = b"".join(b"\r\n%s\r\n" % line.encode() for line in info) + self._inject + b"\r\n%s\r\n" % final.encode()
        self._inject = b""
        self._answer(data)

    def _answer(self, data: bytes) -> None:
        if self.answer_delay_s:
            self._later(self.answer_delay_s, self._write, data)
        else:
            self._write(data)

    def _cme(self, code: int) -> str:
        if self.cmee == 0:
            return "ERROR"
        return "+CME ERROR: %s" % (code if self.cmee == 1 else CME_TEXT[code])

    def _cms(self, code: int) -> str:
        if self.cmee == 0:
            return "ERROR"
        return "+CMS ERROR: %s" % (code if self.cmee == 1 else CMS_TEXT[code])

    # -- commands ---------------------------------------------------------------------------

    def _execute(self, command: str) -> tuple[list[str], str] | None:
        """The answer to one command (the text after "AT"), or None when it answers later."""
        upper = command.upper()
        if upper == "":
            return [], "OK"
        if upper in ("E0", "E1"):
            self.echo = upper == "E1"
            return [], "OK"
        if upper == "I":
            return list(IDENTITY), "OK"
        if upper.startswith("+CMEE"):
            return self._setting(upper, "+CMEE", "cmee", 2)
        if upper.startswith("+CREG"):
            return self._registration(upper, "+CREG", "creg_n", self.creg_stat)
        if upper.startswith("+CEREG"):
            return self._registration(upper, "+CEREG", "cereg_n", self.cereg_stat)
        if upper.startswith("+CPIN"):
            return self._cpin(command[5:])
        if upper == "+CSQ":
            return ["+CSQ: %d,%d" % (self.rssi, self.ber)], "OK"
        if upper == "+COPS?":
            if self._registered():
                return ['+COPS: 0,0,"%s",7' % self.operator], "OK"
            return ["+COPS: 0"], "OK"
        if upper == "+CCLK?":
            return ['+CCLK: "%s"' % self._clock()], "OK"
        if upper.startswith("+CGDCONT"):
            return self._cgdcont(command[8:])
        if upper in ("D*99#", "D*99***1#", '+CGDATA="PPP",1'):
            return self._dial()
        if upper == "O":
            if not self.call_active:
                return [], "NO CARRIER"
            self.data_mode = True
            self._last_data_t = time.monotonic()
            return [], CONNECT
        if upper in ("H", "H0"):
            self.call_active = False
            return [], "OK"
        if upper.startswith("+CMGF"):
            return self._setting(upper, "+CMGF", "cmgf", 1)
        if upper.startswith("+CMGS="):
            return self._cmgs(command[6:])
        return [], "ERROR"

    def _setting(self, upper: str, name: str, attribute: str, highest: int) -> tuple[list[str], str]:
        rest = upper[len(name) :]
        if rest == "?":
            return ["%s: %d" % (name, getattr(self, attribute))], "OK"
        if rest.startswith("=") and rest[1:].isdigit() and int(rest[1:]) <= highest:
            setattr(self, attribute, int(rest[1:]))
            return [], "OK"
        return [], self._cme(50)

    def _registration(self, upper: str, name: str, attribute: str, stat: int) -> tuple[list[str], str]:
        if upper == name + "?":
            return ["%s: %d,%d" % (name, getattr(self, attribute), stat)], "OK"
        return self._setting(upper, name, attribute, 2)

    def _registered(self) -> bool:
        return self.sim == "ready" and (self.cereg_stat in REGISTERED or self.creg_stat in REGISTERED)

    def _cpin(self, rest: str) -> tuple[list[str], str]:
        if self.sim == "absent":
            return [], self._cme(10)
        if rest == "?":
            return ["+CPIN: %s" % ("READY" if self.sim == "ready" else "SIM PIN")], "OK"
        if not rest.startswith("="):
            return [], self._cme(50)
        if self.sim == "ready":
            return [], self._cme(3)
        if rest[1:].strip('"') != self.pin:
            return [], self._cme(16)
        self.sim = "ready"
        return [], "OK"

    def _clock(self) -> str:
        if self.network_time_s is None:
            local = RTC_UNSET + timedelta(seconds=time.monotonic() - self._booted_at)
            quarters = 0
        else:
            now_s = self.network_time_s + time.monotonic() - self._time_set_at
            quarters = self.tz_quarters
            local = datetime.fromtimestamp(now_s, UTC) + timedelta(minutes=15 * quarters)
        return local.strftime("%y/%m/%d,%H:%M:%S") + ("-" if quarters < 0 else "+") + "%02d" % abs(quarters)

    def _cgdcont(self, rest: str) -> tuple[list[str], str]:
        if rest == "?":
            lines = ['+CGDCONT: %d,"%s","%s"' % (cid, kind, apn) for cid, (kind, apn) in sorted(self.contexts.items())]
            return lines, "OK"
        parts = rest[1:].split(",") if rest.startswith("=") else []
        if len(parts) != 3 or not parts[0].isdigit():
            return [], self._cme(50)
        self.contexts[int(parts[0])] = (parts[1].strip('"'), parts[2].strip('"'))
        return [], "OK"

    def _dial(self) -> tuple[list[str], str]:
        if self.sim != "ready":
            return [], self._cme(10 if self.sim == "absent" else 11)
        if not self._registered():
            return [], "NO CARRIER"
        self.call_active = True
        self.data_mode = True
        self._last_data_t = time.monotonic()
        return [], CONNECT

    # -- data mode --------------------------------------------------------------------------

    def _data_byte(self, byte: int, now: float) -> None:
        if self._escape_timer is not None:
            # Anything after "+++" within the guard time makes it data after all.
            self._escape_timer.cancel()
            self._timers.discard(self._escape_timer)
            self._escape_timer = None
            self.data_received += b"+++"
            self._plus = 0
        quiet = now - self._last_data_t
        self._last_data_t = now
        if byte == ord("+") and (quiet >= self.guard_s if self._plus == 0 else quiet < self.guard_s):
            self._plus += 1
            if self._plus == 3:
                self._escape_timer = self._later(self.guard_s, self._escaped)
            return
        self.data_received += b"+" * self._plus + bytes((byte,))
        self._plus = 0

    def _escaped(self) -> None:
        self._escape_timer = None
        self._plus = 0
        self.data_mode = False
        self._reply([], "OK")
        self._flush_held_urcs()

    def _flush_held_urcs(self) -> None:
        held, self._held_urcs = self._held_urcs, []
        for urc in held:
            self.emit(urc)

    # -- SMS --------------------------------------------------------------------------------

    def _cmgs(self, length_text: str) -> tuple[list[str], str] | None:
        if self.cmgf != 0:
            return [], self._cms(CMS_OPERATION_NOT_ALLOWED)  # text mode is not emulated
        if self.sim != "ready":
            return [], self._cms(CMS_SIM_NOT_INSERTED)
        error = self.sms_input.begin(length_text)
        if error is not None:
            return [], self._cms(error)
        self._answer(b"\r\n> ")
        return None

    def _sms_byte(self, byte: int) -> None:
        if self.echo and byte not in (CTRL_Z, ESC):
            self._write(bytes((byte,)))
        answer = self.sms_input.type(byte, self._registered())
        if answer is not None:
            info, error = answer
            self._reply(info, "OK" if error is None else self._cms(error))
            self._flush_held_urcs()
