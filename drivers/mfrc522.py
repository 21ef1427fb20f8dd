"""NXP MFRC522 reader over SPI, with the MIFARE Classic commands the pile's IC cards need.

Registers and commands as in the MFRC522 datasheet (rev. 3.9); the card's
frames as in ISO/IEC 14443-3 type A and NXP's MF1S50 datasheet. Every RF
exchange is a Transceive (or MFAuthent) the chip runs on its own while the
driver awaits: it polls ComIrqReg between short sleeps, so the control loop
never waits on a card, and the chip's timer (15 ms) ends an exchange the card
does not answer. Buffers are allocated once. Methods return None or False on
a card that does not answer, answers badly or refuses; only a chip that does
not answer SPI raises (OSError).
"""

from firmware.compat import const, sleep_ms, ticks_diff, ticks_ms

# Registers.
_COMMAND = const(0x01)
_COM_IRQ = const(0x04)
_DIV_IRQ = const(0x05)
_ERROR = const(0x06)
_STATUS2 = const(0x08)
_FIFO_DATA = const(0x09)
_FIFO_LEVEL = const(0x0A)
_CONTROL = const(0x0C)
_BIT_FRAMING = const(0x0D)
_MODE = const(0x11)
_TX_CONTROL = const(0x14)
_TX_ASK = const(0x15)
_CRC_RESULT_H = const(0x21)
_CRC_RESULT_L = const(0x22)
_T_MODE = const(0x2A)
_T_PRESCALER = const(0x2B)
_T_RELOAD_H = const(0x2C)
_T_RELOAD_L = const(0x2D)
_VERSION = const(0x37)
# Chip commands.
_IDLE = const(0x00)
_CALC_CRC = const(0x03)
_TRANSCEIVE = const(0x0C)
_MF_AUTHENT = const(0x0E)
_SOFT_RESET = const(0x0F)
# Bits.
_RX_IRQ = const(0x20)
_IDLE_IRQ = const(0x10)
_ERR_IRQ = const(0x02)
_TIMER_IRQ = const(0x01)
_CRC_IRQ = const(0x04)
_CRYPTO1_ON = const(0x08)
_ERRORS = const(0x1B)  # BufferOvfl, CollErr, ParityErr, ProtocolErr
# Card commands.
REQA = const(0x26)
WUPA = const(0x52)
_SELECT_CL1 = const(0x93)
_HLTA = const(0x50)
AUTH_A = const(0x60)
AUTH_B = const(0x61)
_READ = const(0x30)
_WRITE = const(0xA0)
_DECREMENT = const(0xC0)
_INCREMENT = const(0xC1)
_RESTORE = const(0xC2)
_TRANSFER = const(0xB0)
_ACK = const(0x0A)

_EXCHANGE_MS = const(50)  # longer than the chip's 15 ms timer: a chip that never ends one is a fault
_POLL_MS = const(1)
_BLOCK_BYTES = const(16)


class Mfrc522:
    """The reader on ``spi`` with chip select ``cs`` (active low)."""

    def __init__(self, spi, cs):
        self.spi = spi
        self.cs = cs
        cs.value(1)
        self._out = bytearray(2)
        self._in = bytearray(2)
        self._frame = bytearray(18)  # the longest frame sent: 16 data bytes and a CRC
        self._answer = bytearray(18)  # the longest answer: a block and its CRC
        self._auth = bytearray(12)
        self.last_bits = 0

    def reset(self):
        """Soft reset, then the timer (15 ms), 100 % ASK, CRC preset 6363h, antenna on; the chip's version."""
        self._put(_COMMAND, _SOFT_RESET)
        # The timer starts at the end of each transmission: 13.56 MHz / (2 * 0xD3E + 1) = 2 kHz, 30 ticks.
        self._put(_T_MODE, 0x8D)
        self._put(_T_PRESCALER, 0x3E)
        self._put(_T_RELOAD_H, 0)
        self._put(_T_RELOAD_L, 30)
        self._put(_TX_ASK, 0x40)
        self._put(_MODE, 0x3D)
        self._put(_TX_CONTROL, self._get(_TX_CONTROL) | 0x03)
        return self._get(_VERSION)

    async def request(self, command=REQA):
        """REQA (or WUPA, which also wakes a halted card): True if a card answered with an ATQA."""
        self._frame[0] = command
        count = await self._transceive(1, 7)
        return count == 2

    async def anticollision(self):
        """The UID of the one card in the field (4 bytes, a new bytes object), None on no answer or a
        bad check byte."""
        self._frame[0] = _SELECT_CL1
        self._frame[1] = 0x20
        count = await self._transceive(2)
        answer = self._answer
        if count != 5 or answer[0] ^ answer[1] ^ answer[2] ^ answer[3] != answer[4]:
            return None
        return bytes(answer[:4])

    async def select(self, uid):
        """Select the card ``uid``: its SAK (0x08 for a Classic 1K), None on no answer."""
        frame = self._frame
        frame[0] = _SELECT_CL1
        frame[1] = 0x70
        frame[2:6] = uid
        frame[6] = uid[0] ^ uid[1] ^ uid[2] ^ uid[3]
        count = await self._transceive(self._with_crc(7))
        if count != 3 or not self._answer_crc_ok(1):
            return None
        return self._answer[0]

    async def authenticate(self, block, key, uid, command=AUTH_A):
        """Authenticate the sector of ``block`` with ``key`` (6 bytes) as key A (or AUTH_B); True if the
        card accepted it."""
        request = self._auth
        request[0] = command
        request[1] = block
        request[2:8] = key
        request[8:12] = uid
        self._put(_COMMAND, _IDLE)
        self._put(_COM_IRQ, 0x7F)
        self._put(_FIFO_LEVEL, 0x80)
        self._put_many(_FIFO_DATA, request, 12)
        self._put(_COMMAND, _MF_AUTHENT)
        irq = await self._wait(_IDLE_IRQ | _TIMER_IRQ | _ERR_IRQ)
        if not irq & _IDLE_IRQ or irq & _TIMER_IRQ:
            return False
        return bool(self._get(_STATUS2) & _CRYPTO1_ON)

    def stop_crypto(self):
        """End the authenticated session (before talking to the next card)."""
        self._put(_STATUS2, self._get(_STATUS2) & ~_CRYPTO1_ON & 0xFF)

    async def halt(self):
        """HLTA: the card stops answering REQA until it leaves the field (WUPA still wakes it)."""
        frame = self._frame
        frame[0] = _HLTA
        frame[1] = 0
        await self._transceive(self._with_crc(2))

    async def read(self, block, into):
        """Read ``block`` into the 16-byte ``into``; True if it came whole with a good CRC."""
        if not await self._command(_READ, block, 18):
            return False
        if not self._answer_crc_ok(16):
            return False
        into[:_BLOCK_BYTES] = self._answer[:_BLOCK_BYTES]
        return True

    async def write(self, block, data):
        """Write the 16 bytes ``data`` to ``block``; True once the card acknowledged both frames."""
        if not await self._command(_WRITE, block, 1) or not self._acked():
            return False
        self._frame[:_BLOCK_BYTES] = data
        return self._acked_count(await self._transceive(self._with_crc(_BLOCK_BYTES)))

    async def decrement(self, block, amount):
        """Decrement the value block ``block`` by ``amount`` into the card's transfer buffer."""
        return await self._value(_DECREMENT, block, amount)

    async def increment(self, block, amount):
        """Increment the value block ``block`` by ``amount`` into the card's transfer buffer."""
        return await self._value(_INCREMENT, block, amount)

    async def restore(self, block):
        """Copy the value block ``block`` into the card's transfer buffer (TRANSFER writes it elsewhere)."""
        return await self._value(_RESTORE, block, 0)

    async def transfer(self, block):
        """Write the card's transfer buffer to the value block ``block``; True once acknowledged."""
        return await self._command(_TRANSFER, block, 1) and self._acked()

    async def _value(self, command, block, amount):
        if not await self._command(command, block, 1) or not self._acked():
            return False
        frame = self._frame
        for index in range(4):
            frame[index] = (amount >> (8 * index)) & 0xFF
        # The card does not answer the operand; an answer (a NAK) means it refused.
        return await self._transceive(self._with_crc(4)) == 0

    async def _command(self, command, block, expected):
        frame = self._frame
        frame[0] = command
        frame[1] = block
        return await self._transceive(self._with_crc(2)) == expected

    def _acked(self):
        return self.last_bits == 4 and self._answer[0] & 0x0F == _ACK

    def _acked_count(self, count):
        return count == 1 and self._acked()

    def _answer_crc_ok(self, length):
        answer = self._answer
        self._crc(answer, length)
        return self._get(_CRC_RESULT_L) == answer[length] and self._get(_CRC_RESULT_H) == answer[length + 1]

    def _with_crc(self, length):
        """Append the CRC_A of the first ``length`` frame bytes; the new length."""
        frame = self._frame
        self._crc(frame, length)
        frame[length] = self._get(_CRC_RESULT_L)
        frame[length + 1] = self._get(_CRC_RESULT_H)
        return length + 2

    def _crc(self, data, length):
        self._put(_COMMAND, _IDLE)
        self._put(_DIV_IRQ, 0x04)
        self._put(_FIFO_LEVEL, 0x80)
        self._put_many(_FIFO_DATA, data, length)
        self._put(_COMMAND, _CALC_CRC)
        started = ticks_ms()
        while not self._get(_DIV_IRQ) & _CRC_IRQ:
            if ticks_diff(ticks_ms(), started) > _EXCHANGE_MS:
                raise OSError("MFRC522 CRC never done")
        self._put(_COMMAND, _IDLE)

    async def _transceive(self, length, last_bits=0):
        """Send the first ``length`` bytes of the frame; the number of answer bytes (0: none came)."""
        self._put(_COMMAND, _IDLE)
        self._put(_COM_IRQ, 0x7F)
        self._put(_FIFO_LEVEL, 0x80)
        self._put_many(_FIFO_DATA, self._frame, length)
        self._put(_COMMAND, _TRANSCEIVE)
        self._put(_BIT_FRAMING, 0x80 | last_bits)
        irq = await self._wait(_RX_IRQ | _IDLE_IRQ | _TIMER_IRQ)
        self._put(_BIT_FRAMING, 0)
        self.last_bits = 0
        if irq & _TIMER_IRQ or not irq & _RX_IRQ or self._get(_ERROR) & _ERRORS:
            return 0
        count = self._get(_FIFO_LEVEL)
        if count > len(self._answer):
            return 0
        for index in range(count):
            self._answer[index] = self._get(_FIFO_DATA)
        self.last_bits = self._get(_CONTROL) & 0x07
        return count

    async def _wait(self, bits):
        started = ticks_ms()
        while True:
            irq = self._get(_COM_IRQ)
            if irq & bits:
                return irq
            if ticks_diff(ticks_ms(), started) > _EXCHANGE_MS:
                raise OSError("MFRC522 exchange never ended")
            await sleep_ms(_POLL_MS)

    def _put(self, register, value):
        out = self._out
        out[0] = register << 1
        out[1] = value
        self.cs.value(0)
        try:
            self.spi.write_readinto(out, self._in)
        finally:
            self.cs.value(1)

    def _put_many(self, register, data, length):
        for index in range(length):
            self._put(register, data[index])

    def _get(self, register):
        out = self._out
        out[0] = 0x80 | (register << 1)
        out[1] = 0
        self.cs.value(0)
        try:
            self.spi.write_readinto(out, self._in)
        finally:
            self.cs.value(1)
        return self._in[1]
