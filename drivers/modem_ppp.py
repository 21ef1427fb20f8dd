"""The data link over the modem: MicroPython's network.PPP on the modem's UART (ESP32 boards, >= 1.24).

network.PPP reads the UART from its RXIDLE interrupt and writes it from
lwIP. While the AT engine needs the UART with the call up (``at_work``),
PPP is pointed at a sink stream (``PPP.config(stream=...)``): it then reads
nothing, so it cannot steal the modem's answers, and what it sends is
dropped instead of landing in the command channel (and breaking the "+++"
guard silence). PPP recovers what was lost meanwhile (LCP echo, TCP
retransmission); the link stays up. The unix port has no network.PPP: the
virtual pile passes a stand-in (``ppp_class``) whose traffic is the host's
sockets, so the dialling, suspending and resuming around it are the same.
"""

import asyncio
import io

from drivers.modem_at import AtError
from firmware.compat import const

_CONNECT_TIMEOUT_MS = const(30000)
_DISCONNECT_TIMEOUT_MS = const(5000)
_STATE_POLL_MS = const(100)
_PPP_CONNECTING = const(3)  # PPP.status(): 3 connecting, 4 connected; below, no session to end


class _Sink(io.IOBase):
    """Where PPP reads and writes while the AT engine has the UART: nothing in, everything dropped."""

    def readinto(self, buf):
        return None  # no data: PPP's poll reads nothing

    def write(self, buf):
        return len(buf)

    def ioctl(self, request, arg):
        return 0

    def irq(self, handler=None, trigger=0):
        """PPP sets the UART's interrupt on connect and clears it on disconnect; the sink has none."""
        return None


class PppLink:
    """PPP on ``uart`` once ``modem`` has dialled; the UART is the one the modem's AtEngine uses.

    ``ppp`` is the session an earlier link on the same modem made (the modem
    task builds a link for each round), None before the first dial.
    """

    def __init__(self, modem, uart, ppp_class=None, ppp=None):
        self.modem = modem
        self.uart = uart
        if ppp_class is None:
            import network

            ppp_class = network.PPP
        self._ppp_class = ppp_class
        self.ppp = ppp
        self._sink = _Sink()

    def isconnected(self):
        """True while PPP is up (an address, a default route)."""
        return self.ppp is not None and self.ppp.isconnected()

    async def up(self, apn, timeout_ms=_CONNECT_TIMEOUT_MS):
        """Dial ``apn`` and negotiate PPP; True once the link is up, False if it is not within ``timeout_ms``.

        AtError from the dial (the network refused).
        """
        await self.end_session()  # one left from a call that has gone (a power cycle, NO CARRIER)
        await self.modem.dial(apn)
        if self.ppp is None:
            self.ppp = self._ppp_class(self.uart)
        ppp = self.ppp
        ppp.connect()
        return await self._until(ppp.isconnected, timeout_ms)

    async def at_work(self, work):
        """``await work()`` in command mode with the call kept up: PPP aside, suspend, work, resume.

        Without a data call, ``work`` simply runs. If the modem does not come
        back to commands, PPP is ended and ``work`` runs anyway (a poll then
        counts the silence, and power-cycles in the end). AtError from
        ``resume`` (NO CARRIER: the call has gone) means the link must be
        brought up again.
        """
        ppp = self.ppp
        if ppp is None or not self.modem.at.data_mode:
            return await work()
        ppp.config(stream=self._sink)
        try:
            await self.modem.suspend()
        except AtError:
            await self.end_session()
            return await work()
        try:
            return await work()
        finally:
            try:
                await self.modem.resume()
            finally:
                ppp.config(stream=self.uart)

    async def down(self):
        """End PPP (LCP terminate), then the data call; the modem is left in command mode."""
        await self.end_session()
        if self.modem.at.data_mode:
            await self.modem.suspend()
        await self.modem.hang_up()

    async def end_session(self):
        """End the PPP session (the call under it has gone, or is about to)."""
        ppp = self.ppp
        if ppp is None or ppp.status() < _PPP_CONNECTING:
            return
        ppp.config(stream=self.uart)
        ppp.disconnect()
        await self._until(lambda: ppp.status() < _PPP_CONNECTING, _DISCONNECT_TIMEOUT_MS)

    async def _until(self, condition, timeout_ms):
        waited_ms = 0
        while not condition():
            if waited_ms >= timeout_ms:
                return False
            await asyncio.sleep_ms(_STATE_POLL_MS)
            waited_ms += _STATE_POLL_MS
        return True
