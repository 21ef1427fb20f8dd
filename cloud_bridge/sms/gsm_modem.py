"""An SMS provider that is a GSM/LTE modem on a serial port (a USB dongle or a module on a USB-serial adapter).

The texts are encoded by the pile's own encoder (firmware/sms_pdu.py) and sent in PDU mode: ``ATE0``,
``AT+CMEE=1``, ``AT+CMGF=0``, then per part ``AT+CMGS=<TPDU octets>``, the ``> `` prompt, the PDU in hex
and Ctrl-Z, answered by ``+CMGS: <message reference>`` and ``OK``. The port is opened for each text and
closed after it, so a modem unplugged and plugged back in between texts costs nothing. One text at a
time: the sends of one provider are serialised.
"""

from __future__ import annotations

import random
import threading
import time

import serial  # type: ignore[import-untyped]  # pyserial ships no type information

from cloud_bridge.sms.provider import ProviderError
from firmware.sms_pdu import submit_pdus

CTRL_Z = b"\x1a"
ESC = b"\x1b"
PROMPT = b"> "
FINAL_OK = "OK"
# Final results that end a command in failure (3GPP TS 27.007 and 27.005); +CMS ERROR is the SMS one.
FINAL_ERRORS = ("ERROR", "+CME ERROR:", "+CMS ERROR:")
SENT_PREFIX = "+CMGS:"
# How long one read waits at most, so a deadline is never overshot by much.
READ_SLICE_S = 0.05
SETUP = ("ATE0", "AT+CMEE=1", "AT+CMGF=0")


class GsmModemProvider:
    """SMS through the modem at serial ``port``; ``timeout_s`` bounds the wait for each answer (the
    prompt, each command's final result), so a silent modem fails within it.

    ``send`` returns the modem's message reference of the text's last part, as a string.
    """

    name = "gsm"

    def __init__(self, port: str, baudrate: int = 115200, timeout_s: float = 10.0) -> None:
        self.port = port
        self.baudrate = baudrate
        self.timeout_s = timeout_s
        # The concatenation reference of the next long text: recipients' phones join parts by it, so
        # consecutive texts get consecutive ones, starting anywhere after a restart.
        self._ref = random.randrange(256)
        self._lock = threading.Lock()

    def send(self, number: str, text: str) -> str:
        """Send ``text`` to ``number`` ("+8613800138000" or national digits); the last part's message
        reference. ProviderError if the text cannot be encoded, the port cannot be opened, or the modem
        refuses or does not answer in time (parts before the failing one may have gone)."""
        with self._lock:
            ref = self._ref
            self._ref = (ref + 1) % 256
            try:
                parts = submit_pdus(number, text, ref)
            except ValueError as error:
                raise ProviderError(f"GSM modem: cannot send to {number!r}: {error}") from None
            try:
                link = serial.Serial(self.port, self.baudrate, timeout=READ_SLICE_S, write_timeout=self.timeout_s)
            except (serial.SerialException, ValueError) as error:
                raise ProviderError(f"GSM modem at {self.port}: cannot open the port: {error}") from None
            try:
                with link:
                    return _Session(link, self.port, self.timeout_s).send(parts)
            except (serial.SerialException, OSError) as error:
                raise ProviderError(f"GSM modem at {self.port}: {error}") from None


class _Session:
    """The AT exchange on an open port: commands and their final results, the prompt, the PDUs."""

    def __init__(self, link: serial.Serial, port: str, timeout_s: float) -> None:
        self._link = link
        self._port = port
        self._timeout_s = timeout_s
        self._buffer = bytearray()

    def send(self, parts: list[tuple[int, bytes]]) -> str:
        self._link.reset_input_buffer()  # URCs that waited in the port since the last text
        for command in SETUP:
            self._command(command)
        reference = ""
        for number, (length, pdu) in enumerate(parts, start=1):
            command = f"AT+CMGS={length}"
            where = f"part {number} of {len(parts)}: {command}"
            self._write(command.encode() + b"\r")
            self._wait_prompt(where)
            self._write(pdu + CTRL_Z)
            info = self._wait_final(where, SENT_PREFIX)
            if not info:
                raise ProviderError(f"GSM modem at {self._port}: {where}: OK without {SENT_PREFIX}")
            reference = info[-1][len(SENT_PREFIX) :].strip()
        return reference

    def _command(self, command: str) -> list[str]:
        self._write(command.encode() + b"\r")
        return self._wait_final(command, None)

    def _write(self, data: bytes) -> None:
        self._link.write(data)
        self._link.flush()

    def _wait_final(self, where: str, expect: str | None) -> list[str]:
        # Lines up to the final result; with ``expect``, the lines starting with it. The command's echo
        # (until ATE0 has taken effect) and URCs are neither.
        deadline = time.monotonic() + self._timeout_s
        info: list[str] = []
        while True:
            line = self._take_line()
            if line is None:
                if not self._read(deadline):
                    raise ProviderError(f"GSM modem at {self._port}: {where}: no answer within {self._timeout_s} s")
            elif line == FINAL_OK:
                return info
            elif line.startswith(FINAL_ERRORS):
                raise ProviderError(f"GSM modem at {self._port}: {where}: {line}")
            elif expect is not None and line.startswith(expect):
                info.append(line)

    def _wait_prompt(self, where: str) -> None:
        # "> " comes without a line end; an error can come instead.
        deadline = time.monotonic() + self._timeout_s
        while True:
            if bytes(self._buffer).lstrip(b"\r\n").startswith(PROMPT):
                self._buffer.clear()
                return
            line = self._take_line()
            if line is None:
                if not self._read(deadline):
                    self._write(ESC)  # should the prompt come yet, ESC leaves the PDU input
                    raise ProviderError(f"GSM modem at {self._port}: {where}: no prompt within {self._timeout_s} s")
            elif line.startswith(FINAL_ERRORS):
                raise ProviderError(f"GSM modem at {self._port}: {where}: {line}")

    def _take_line(self) -> str | None:
        # The next complete line that is not empty, taken from the buffer; None until one has come.
        while True:
            ends = [end for end in (self._buffer.find(b"\r"), self._buffer.find(b"\n")) if end >= 0]
            if not ends:
                return None
            end = min(ends)
            line = self._buffer[:end].decode("latin-1").strip()
            del self._buffer[: end + 1]
            if line:
                return line

    def _read(self, deadline: float) -> bool:
        # Whatever the modem sent within one read slice; False once the deadline has passed.
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self._link.timeout = min(remaining, READ_SLICE_S)
        self._buffer += self._link.read(max(1, self._link.in_waiting))
        return True
