"""Simulated board hardware for the MicroPython unix port: UARTs on ptys, pins and I2C on a pin bus.

The host world (boards/sim/world) sits at the other end and speaks only in
what the real parts carry: bytes on a UART, pin levels, I2C write bytes.
Pin bus lines (ASCII): to the host ``O gpio level`` (an output changed),
``W addr hexbytes`` (an I2C write) and ``E name args`` (a board event: the
watchdog fed, the flash reached an armed cut); from the host ``L gpio level``
(the world drives an input; an ADC pin's level is its voltage in µV), ``S gpioA gpioB 0|1`` (a switch contact opens or
closes, as a keypad key joins a row and a column) and ``X name args`` (a board
condition: arm a flash cut, hold the I2C bus).

The flash is a littlefs image in a file, as the board's flash partition
would be; the firmware never formats it (the world provisions it).
"""

import asyncio
import errno
import select
import socket
import time
from binascii import hexlify

from firmware.compat import const

_SPI_TIMEOUT_MS = const(1000)
_SPI_POLL_MS = const(5)


class PtyUart:
    """A UART whose line is a pty the host paces at the baud rate; reads never block."""

    def __init__(self, path, baudrate, bits_per_char=10):
        self._file = open(path, "r+b", buffering=0)
        self._char_us = bits_per_char * 1000000 // baudrate
        self._tx_done_ms = time.ticks_ms()

    def readinto(self, buf):
        """Bytes waiting, up to len(buf); None when there are none (like machine.UART)."""
        return self._file.readinto(buf) or None

    def write(self, buf):
        """Queue ``buf`` for sending; ``txdone`` turns true when the line would have sent it."""
        now = time.ticks_ms()
        start = self._tx_done_ms if time.ticks_diff(self._tx_done_ms, now) > 0 else now
        self._tx_done_ms = time.ticks_add(start, (len(buf) * self._char_us + 999) // 1000)
        return self._file.write(buf)

    def txdone(self):
        """True once the last byte written would be on the wire."""
        return time.ticks_diff(time.ticks_ms(), self._tx_done_ms) >= 0


class SPI:
    """machine.SPI to a chip the host emulates, over a pty (boards/sim/world/spi_link.py).

    Each ``write_readinto`` is one chip-select frame: a length byte and the
    MOSI bytes go out, and the call returns once as many MISO bytes are back,
    as a real transfer returns once it has clocked them. OSError (ETIMEDOUT)
    if the host never answers.
    """

    def __init__(self, path):
        self._file = open(path, "r+b", buffering=0)
        self._head = bytearray(1)
        self._poller = select.poll()
        self._poller.register(self._file, select.POLLIN)

    def write_readinto(self, write_buf, read_buf):
        length = len(write_buf)
        if length > 255 or len(read_buf) < length:
            raise ValueError("SPI frame too long")
        self._head[0] = length
        self._file.write(self._head)
        self._file.write(write_buf)
        view = memoryview(read_buf)
        got = 0
        started = time.ticks_ms()
        while got < length:
            count = self._file.readinto(view[got:length])
            if count:
                got += count
            elif time.ticks_diff(time.ticks_ms(), started) > _SPI_TIMEOUT_MS:
                raise OSError(errno.ETIMEDOUT)
            else:
                self._poller.poll(_SPI_POLL_MS)


class PinBus:
    """The connection to the host's pin bus, and the level of every pin on it."""

    def __init__(self, address):
        host, port = address.split(":")
        self.sock = socket.socket()
        self.sock.connect(socket.getaddrinfo(host, int(port))[0][-1])
        self.driven = {}
        self.outputs = {}
        self.contacts = {}
        self.irqs = {}
        self.commands = {}
        self.sock.write(b"H sim-board\n")

    def send(self, line):
        """Send one line (bytes, newline included) to the host."""
        self.sock.write(line)

    def level(self, gpio):
        """The level an input on ``gpio`` reads: driven by the world, pulled low through a
        closed contact to an output driving low, else pulled up."""
        if gpio in self.driven:
            return self.driven[gpio]
        for other in self.contacts.get(gpio, ()):
            if self.outputs.get(other, 1) == 0:
                return 0
        return 1

    async def serve(self):
        """Apply the host's lines until the connection ends."""
        reader = asyncio.StreamReader(self.sock)
        while True:
            line = await reader.readline()
            if not line:
                raise OSError("pin bus closed")
            self._apply(line.split())

    def _apply(self, parts):
        if len(parts) == 3 and parts[0] == b"L":
            gpio = int(parts[1])
            before = self.level(gpio)
            self.driven[gpio] = int(parts[2])
            self._edge(gpio, before)
        elif len(parts) >= 2 and parts[0] == b"X" and parts[1] in self.commands:
            self.commands[parts[1]](parts[2:])
        elif len(parts) == 4 and parts[0] == b"S":
            a, b, closed = int(parts[1]), int(parts[2]), parts[3] == b"1"
            for one, other in ((a, b), (b, a)):
                joined = self.contacts.setdefault(one, [])
                if closed and other not in joined:
                    joined.append(other)
                elif not closed and other in joined:
                    joined.remove(other)

    def _edge(self, gpio, before):
        handler = self.irqs.get(gpio)
        after = self.level(gpio)
        if handler is None or after == before:
            return
        pin, trigger, callback = handler
        if (after == 0 and trigger & Pin.IRQ_FALLING) or (after == 1 and trigger & Pin.IRQ_RISING):
            callback(pin)


class Pin:
    """A machine.Pin on the pin bus; ``report`` outputs are seen by the host."""

    IN = 0
    OUT = 1
    PULL_UP = 1
    IRQ_FALLING = 1
    IRQ_RISING = 2

    def __init__(self, bus, gpio, mode, report=True):
        self.bus = bus
        self.gpio = gpio
        self.mode = mode
        self.report = report
        if mode == Pin.OUT:
            bus.outputs[gpio] = 1

    def value(self, level=None):
        """Read the pin, or drive an output to ``level``."""
        if level is None:
            if self.mode == Pin.OUT:
                return self.bus.outputs[self.gpio]
            return self.bus.level(self.gpio)
        level = 1 if level else 0
        if self.bus.outputs.get(self.gpio) != level:
            self.bus.outputs[self.gpio] = level
            if self.report:
                self.bus.send(b"O %d %d\n" % (self.gpio, level))
        return None

    def irq(self, trigger, handler):
        """Call ``handler(pin)`` on the given edges of an input."""
        self.bus.irqs[self.gpio] = (self, trigger, handler)


class ADC:
    """machine.ADC on a pin of the pin bus: the world drives the pin's voltage, in µV, as its level."""

    def __init__(self, pin):
        self.pin = pin

    def read_uv(self):
        """The pin's voltage in µV (calibrated, as on an ESP32)."""
        return self.pin.value()


class I2C:
    """machine.I2C writes, carried to the host device emulators.

    ``X stuck 1`` from the host holds the bus the way a device pulling SCL low
    does: the next write never returns (until the watchdog resets the board).
    """

    def __init__(self, bus):
        self.bus = bus
        self.stuck = False
        bus.commands[b"stuck"] = self._stuck

    def _stuck(self, args):
        self.stuck = args == [b"1"]

    def writeto(self, address, buf):
        """One write transaction to ``address``."""
        while self.stuck:
            time.sleep_ms(10)
        self.bus.send(b"W %d %s\n" % (address, hexlify(buf)))
        return len(buf)


class Watchdog:
    """machine.WDT stand-in: the host world is the watchdog and resets the VM if feeds stop."""

    def __init__(self, bus, timeout_ms):
        self.bus = bus
        bus.send(b"E watchdog %d\n" % timeout_ms)

    def feed(self):
        """Tell the host watchdog the firmware is alive."""
        self.bus.send(b"E feed\n")


class FileFlash:
    """A block device on a file, as littlefs sees the board's flash partition.

    Counts block programs and erases (for the wear figures). The host can arm
    a power cut with ``X cut <n> <0|1>``: the n-th block program from then on
    completes (1) or not (0), and then the board stops dead, reporting ``E cut``
    so the host can take the power away.
    """

    BLOCK_SIZE = 4096

    def __init__(self, path, bus):
        self.file = open(path, "r+b")
        self.file.seek(0, 2)
        self.blocks = self.file.tell() // self.BLOCK_SIZE
        self.bus = bus
        self.programs = 0
        self.erases = 0
        self.cut_in = 0
        self.cut_completes = True
        self._erased = b"\xff" * 256
        bus.commands[b"cut"] = self._arm

    def _arm(self, args):
        self.cut_in = self.programs + int(args[0])
        self.cut_completes = args[1] == b"1"

    def readblocks(self, block, buf, offset=0):
        self.file.seek(block * self.BLOCK_SIZE + offset)
        self.file.readinto(buf)

    def writeblocks(self, block, buf, offset=0):
        self.programs += 1
        cut = self.cut_in and self.programs >= self.cut_in
        if not cut or self.cut_completes:
            self.file.seek(block * self.BLOCK_SIZE + offset)
            self.file.write(buf)
            self.file.flush()
        if cut:
            self.bus.send(b"E cut %d\n" % self.programs)
            while True:
                time.sleep_ms(1000)

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 5:
            return self.BLOCK_SIZE
        if op == 6:
            self.erases += 1
            self.file.seek(arg * self.BLOCK_SIZE)
            for _ in range(self.BLOCK_SIZE // 256):
                self.file.write(self._erased)
            return 0
        return 0


class HostPpp:
    """network.PPP's part in the virtual pile: the pile's packets go over the host's sockets (through
    the world's network proxy), so PPP itself is only its state; the modem still dials and is still
    suspended and resumed around AT work, on its real UART."""

    def __init__(self, stream):
        self._state = 0

    def config(self, stream=None):
        """PPP takes a new stream (its UART, or the sink while the AT engine works)."""

    def connect(self):
        """LCP and IPCP would run here; the host's network is up at once."""
        self._state = 4

    def isconnected(self):
        """True once connected."""
        return self._state == 4

    def status(self):
        """4 connected, 0 down (network.PPP's codes)."""
        return self._state

    def disconnect(self):
        """End the PPP session."""
        self._state = 0
