"""AT command engine for a cellular modem on a UART, under asyncio.

One command at a time (a lock). A reader task splits the UART's bytes into
lines in a buffer allocated once; each line is the echo of the command
(skipped), an information line of the command in progress, its final result
(OK, ERROR, +CME ERROR: n, +CMS ERROR: n; CONNECT or NO CARRIER for a dial),
or an unsolicited result code (URC), handed to ``on_urc`` whenever it comes,
even in the middle of an answer. A line longer than ``_LINE_MAX`` or holding a
byte that is not printable ASCII is rejected, counted and logged, never
passed on.

After CONNECT the link is in data mode: the reader stops at once, leaving
the UART to PPP, until ``escape`` brings the modem back to commands.
"""

import asyncio
import time
from binascii import hexlify

from firmware.compat import const

_OK = const("OK")
_ERROR = const("ERROR")
_CM_ERROR = const("+CM")
_COMMAND_AND_REPLY = const("%s: %s")
_DATA_MODE = const("data mode")
_ESCAPE = const("+++")
_BUSY = const("busy")
_CONNECT = const("CONNECT")

_LINE_MAX = const(384)  # bytes; a whole SMS PDU in hex fits in one line
_CHUNK_BYTES = const(64)
_INFO_MAX = const(16)  # information lines kept per command; more are dropped
_TIMEOUT_MS = const(1000)
_PROMPT_TIMEOUT_MS = const(5000)
_WRITE_TIMEOUT_MS = const(1000)
# Longer than the longest command (a dial), so waiting behind one never looks like a dead modem.
_LOCK_TIMEOUT_MS = const(180000)
_REJECT_LOG_INTERVAL_MS = const(10000)
_IDLE_MS = const(20)  # pause after a read that returned nothing (a closed pty), instead of spinning
_REJECT_HEAD_BYTES = const(16)

_CR = const(13)
_LF = const(10)
_PROMPT = const(0x3E)  # '>'
_SPACE = const(0x20)
_TILDE = const(0x7E)
_CTRL_Z = const(b"\x1a")
_ESC = const(b"\x1b")

_URC_PREFIXES = const(
    (
        "+CREG:",
        "+CEREG:",
        "+CGREG:",
        "+CGEV:",
        "+CPIN:",
        "+CMTI:",
        "+CMT:",
        "+CDS:",
        "+CFUN:",
        "+CTZV:",
        "+CTZE:",
        "+QIND:",
        "+QUSIM:",
        "RING",
        "RDY",
        "NO CARRIER",
        "POWERED DOWN",
        "SMS DONE",
    )
)
_DIAL_FAILURES = const(("NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE"))


class AtError(Exception):
    """A command failed: ``reply`` is the modem's final result ("ERROR", "+CME ERROR: 10", "NO CARRIER")
    or what went wrong ("timeout", "data mode"); ``code`` is the +CME/+CMS number, else None."""

    def __init__(self, command, reply, code=None):
        super().__init__(_COMMAND_AND_REPLY % (command, reply))
        self.command = command
        self.reply = reply
        self.code = code


class AtTimeout(AtError):
    """No final result (or prompt) came in time."""

    def __init__(self, command, reply="timeout"):
        super().__init__(command, reply)


def is_urc(text):
    """True if ``text`` is one of the unsolicited result codes the modem sends on its own."""
    for prefix in _URC_PREFIXES:
        if text.startswith(prefix):
            return True
    return False


def _is_final(text):
    return text == _OK or text == _ERROR or text.startswith("+CME ERROR:") or text.startswith("+CMS ERROR:")


def _error_code(final):
    # "+CME ERROR: 10" -> 10; verbose errors (AT+CMEE=2) have no number.
    if final.startswith(_CM_ERROR):
        try:
            return int(final[12:])
        except ValueError:
            return None
    return None


class AtEngine:
    """Commands and URCs over one stream (a machine.UART on a board, a pty file in the sim).

    ``log(kind, **fields)`` receives the rejected-line records (at most one per
    ``_REJECT_LOG_INTERVAL_MS``); ``on_urc(text)`` every URC. Counters for the
    health log: ``rejected`` lines, ``stray`` final results (a late answer to a
    command that had timed out), ``urcs``.
    """

    def __init__(self, stream, log=None):
        self._reader_stream = asyncio.StreamReader(stream)
        self._writer = asyncio.StreamWriter(stream)
        self._log = log
        self.on_urc = None
        self._lock = asyncio.Lock()
        self._event = asyncio.Event()
        self._line = bytearray(_LINE_MAX)
        self._view = memoryview(self._line)
        self._chunk = bytearray(_CHUNK_BYTES)
        self._length = 0
        self._bad = False
        self._task = None
        self._stop = False
        # The command in progress: echo to skip, prefix of its information lines, dial or not.
        self._busy = False
        self._echo = None
        self._expect = None
        self._connect = False
        self._info = []
        self._final = None
        self._prompt_wanted = False
        self._prompted = False
        self._reject_logged_ms = None
        self.data_mode = False
        self.rejected = 0
        self.stray = 0
        self.urcs = 0

    async def command(self, command, timeout_ms=_TIMEOUT_MS, expect=None, connect=False):
        """Send ``command`` (without _CR) and return its information lines, a list of str.

        ``expect`` is the prefix of the information lines (e.g. "+CSQ:"); any
        other line during the command is a URC. Without it, every line that is
        not a known URC is information. With ``connect``, CONNECT ends the
        command and starts data mode; NO CARRIER, BUSY, NO ANSWER, NO DIALTONE
        are failures. Raises AtError on an error result, AtTimeout if no final
        result comes within ``timeout_ms``.
        """
        await self._acquire(command)
        try:
            if self.data_mode:
                raise AtError(command, _DATA_MODE)
            self._begin(command, expect, connect)
            await self._write(command.encode() + b"\r", command)
            await self._wait(command, timeout_ms)
            return self._result(command)
        finally:
            self._release()

    async def send_body(self, command, body, timeout_ms=_TIMEOUT_MS, expect=None, prompt_timeout_ms=_PROMPT_TIMEOUT_MS):
        """Send ``command``, wait for the "> " prompt, then ``body`` (bytes) and Ctrl-Z (an SMS).

        Returns the information lines of the final answer. An error instead of
        the prompt raises AtError; no prompt in time sends _ESC (the modem drops
        the half-typed input) and raises AtTimeout.
        """
        await self._acquire(command)
        try:
            if self.data_mode:
                raise AtError(command, _DATA_MODE)
            self._begin(command, expect, False)
            self._prompt_wanted = True
            await self._write(command.encode() + b"\r", command)
            try:
                await self._wait(command, prompt_timeout_ms)
            except AtTimeout:
                await self._write(_ESC, command)  # the modem drops the half-typed input
                raise
            if not self._prompted:
                return self._result(command)
            # With echo on the modem types the body back; that line is echo too.
            self._echo = body.decode()
            self._event.clear()
            await self._write(body + _CTRL_Z, command)
            await self._wait(command, timeout_ms)
            return self._result(command)
        finally:
            self._prompt_wanted = False
            self._release()

    async def escape(self, guard_ms, timeout_ms=_TIMEOUT_MS):
        """Leave data mode: ``guard_ms`` of silence, "+++", silence again; the modem answers OK.

        The reader starts again first, so whatever the modem still sends as
        data is read (and rejected as garbage) before the OK. Data mode ends
        whatever the outcome: a modem that does not answer is then in command
        mode or stuck, and the next command tells which. AtTimeout if no OK.
        """
        await self._acquire(_ESCAPE)
        try:
            self._listen()
            await asyncio.sleep_ms(guard_ms)
            self._begin(_ESCAPE, None, False)
            await self._write(b"+++", _ESCAPE)
            await self._wait(_ESCAPE, guard_ms + timeout_ms)
            self._result(_ESCAPE)
        finally:
            self.data_mode = False
            self._release()

    def reset(self):
        """The modem restarted: forget data mode and any half-received line, and listen again."""
        self.data_mode = False
        self._length = 0
        self._bad = False
        self._listen()

    def close(self):
        """Stop reading the UART (the reader waits for URCs without end): the engine can then be dropped.

        Bytes the modem sends afterwards wait in the UART for the next engine on it.
        """
        self._stop = True
        task = self._task
        if task is not None:
            task.cancel()
            self._task = None

    async def _acquire(self, command):
        try:
            await asyncio.wait_for_ms(self._lock.acquire(), _LOCK_TIMEOUT_MS)
        except asyncio.TimeoutError:  # noqa: UP041 - MicroPython has no builtin TimeoutError
            raise AtTimeout(command, _BUSY) from None

    def _begin(self, command, expect, connect):
        self._listen()
        self._busy = True
        self._echo = command
        self._expect = expect
        self._connect = connect
        self._info = []
        self._final = None
        self._prompted = False
        self._event.clear()

    def _release(self):
        self._busy = False
        self._lock.release()

    async def _write(self, data, command):
        self._writer.write(data)
        try:
            await asyncio.wait_for_ms(self._writer.drain(), _WRITE_TIMEOUT_MS)
        except asyncio.TimeoutError:  # noqa: UP041 - MicroPython has no builtin TimeoutError
            raise AtTimeout(command, "write timeout") from None

    async def _wait(self, command, timeout_ms):
        try:
            await asyncio.wait_for_ms(self._event.wait(), timeout_ms)
        except asyncio.TimeoutError:  # noqa: UP041 - MicroPython has no builtin TimeoutError
            raise AtTimeout(command) from None

    def _result(self, command):
        final = self._final or ""
        if final == _OK or (self._connect and final.startswith(_CONNECT)):
            return self._info
        raise AtError(command, final, _error_code(final))

    def _listen(self):
        self._stop = False
        if self._task is None:
            self._task = asyncio.create_task(self._read())

    async def _read(self):
        # The one await without a timeout: URCs may be minutes apart.
        chunk = self._chunk
        try:
            while not self._stop:
                count = await self._reader_stream.readinto(chunk)
                if count:
                    self._feed(chunk, count)
                else:
                    await asyncio.sleep_ms(_IDLE_MS)
        except OSError as error:
            if self._log is not None:
                self._log("modem_uart", error=str(error))
        finally:
            self._task = None

    def _feed(self, chunk, count):
        line = self._line
        for index in range(count):
            byte = chunk[index]
            if byte == _CR or byte == _LF:
                if self._length:
                    self._end_line()
                    if self._stop:
                        return  # CONNECT: the rest is PPP's
                continue
            if self._length < _LINE_MAX:
                line[self._length] = byte
                self._length += 1
            else:
                self._bad = True
            if byte < _SPACE or byte > _TILDE:
                self._bad = True
            elif self._prompt_wanted and self._length == 2 and byte == _SPACE and line[0] == _PROMPT:
                # "> " comes without a line end: it is the whole prompt.
                self._length = 0
                self._prompt_wanted = False
                self._prompted = True
                self._event.set()

    def _end_line(self):
        length = self._length
        self._length = 0
        if self._bad:
            self._bad = False
            self._reject(length)
            return
        self._route(str(self._view[:length], "ascii"))

    def _route(self, text):
        if not self._busy or self._final is not None:
            if _is_final(text):
                self.stray += 1
            else:
                self._urc(text)
            return
        if text == self._echo:
            self._echo = None
            return
        if _is_final(text):
            self._finish(text)
        elif self._connect and text.startswith(_CONNECT):
            self.data_mode = True
            self._stop = True
            self._finish(text)
        elif self._connect and text in _DIAL_FAILURES:
            self._finish(text)
        elif text.startswith(self._expect) if self._expect else not is_urc(text):
            if len(self._info) < _INFO_MAX:
                self._info.append(text)
        else:
            self._urc(text)

    def _finish(self, final):
        self._final = final
        self._event.set()

    def _urc(self, text):
        self.urcs += 1
        handler = self.on_urc
        if handler is None:
            return
        try:
            handler(text)
        except Exception as error:  # noqa: BLE001 - a broken handler must not stop the reader
            if self._log is not None:
                self._log("modem_urc_handler", urc=text, error=repr(error))

    def _reject(self, length):
        self.rejected += 1
        now = time.ticks_ms()
        last = self._reject_logged_ms
        if self._log is None or (last is not None and time.ticks_diff(now, last) < _REJECT_LOG_INTERVAL_MS):
            return
        self._reject_logged_ms = now
        head = hexlify(bytes(self._line[: min(length, _REJECT_HEAD_BYTES)])).decode()
        self._log("modem_rejected", count=self.rejected, length=length, head=head)
