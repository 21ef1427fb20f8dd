"""An NXP MFRC522 reader chip with a MIFARE Classic 1K card in its field, at the chip's SPI bytes.

The subset of the chip a driver needs (MFRC522 datasheet, rev. 3.9): the
registers it writes and reads, the 64-byte FIFO, and the commands Idle,
CalcCRC (CRC_A into CRCResultReg), Transceive (the FIFO goes out when
BitFramingReg's StartSend is set; the card's answer comes back into the FIFO,
with RxLastBits for a 4-bit ACK), MFAuthent (key and UID from the FIFO; on
success Status2Reg's MFCrypto1On) and SoftReset. The card is a state machine
(ISO/IEC 14443-3 A, then MIFARE Classic's commands): REQA/WUPA, anticollision
and select at cascade level 1, HLTA, READ, WRITE, INCREMENT, DECREMENT,
RESTORE, TRANSFER, each frame checked for its CRC_A. An answer that does not
come (no card, a refused operation, a frame with a bad CRC) ends the command
by the chip's timer (TimerIRq), as on the chip.

The tests ``present`` a card, ``remove`` it, or ``tear_next_write`` (the card
leaves the field in the middle of a block write: the block holds part of the
new bytes). One SPI transfer (chip select low to high) is ``transfer(mosi)``:
the first byte is the address byte (bit 7 read, bits 6-1 the register), and
each MISO byte is the register the MOSI byte before it addressed.
"""

from __future__ import annotations

import threading

from boards.sim.world.mifare import KEY_A, KEY_B, SAK, ClassicCard, read_value, value_block

# Registers (datasheet 9.2).
COMMAND = 0x01
COM_IRQ = 0x04
DIV_IRQ = 0x05
ERROR = 0x06
STATUS2 = 0x08
FIFO_DATA = 0x09
FIFO_LEVEL = 0x0A
CONTROL = 0x0C
BIT_FRAMING = 0x0D
TX_CONTROL = 0x14
CRC_RESULT_H = 0x21
CRC_RESULT_L = 0x22
VERSION = 0x37
# Commands.
IDLE = 0x00
CALC_CRC = 0x03
TRANSCEIVE = 0x0C
MF_AUTHENT = 0x0E
SOFT_RESET = 0x0F
# ComIrqReg / DivIrqReg / ErrorReg / Status2Reg bits.
TX_IRQ = 0x40
RX_IRQ = 0x20
IDLE_IRQ = 0x10
TIMER_IRQ = 0x01
CRC_IRQ = 0x04
PROTOCOL_ERR = 0x01
CRYPTO1_ON = 0x08
VERSION_2_0 = 0x92
FIFO_BYTES = 64
# Card commands and answers (ISO/IEC 14443-3, MF1S50).
REQA = 0x26
WUPA = 0x52
SELECT_CL1 = 0x93
HLTA = 0x50
AUTH_A = 0x60
AUTH_B = 0x61
READ = 0x30
WRITE = 0xA0
DECREMENT = 0xC0
INCREMENT = 0xC1
RESTORE = 0xC2
TRANSFER = 0xB0
ACK = 0x0A
NAK_NOT_ALLOWED = 0x04
NAK_TRANSMISSION = 0x05

_IDLE_CARD, _READY, _ACTIVE, _HALT = "idle", "ready", "active", "halt"


def crc_a(data: bytes) -> bytes:
    """ISO/IEC 14443-3 CRC_A (initial 0x6363, reflected polynomial 0x8408), low byte first."""
    crc = 0x6363
    for byte in data:
        byte ^= crc & 0xFF
        byte ^= (byte << 4) & 0xFF
        crc = (crc >> 8) ^ (byte << 8) ^ (byte << 3) ^ (byte >> 4)
    return bytes((crc & 0xFF, (crc >> 8) & 0xFF))


class Mfrc522:
    """The chip's registers and FIFO, and the card (if any) in its field. Thread-safe: the SPI link calls
    ``transfer`` from its own thread while the test presents and removes cards."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.card: ClassicCard | None = None
        self._tear_after: int | None = None
        self._writes_before_tear = 0
        self._reset()

    # The test's side.
    def present(self, card: ClassicCard) -> None:
        """Put ``card`` in the field (it powers up idle, unauthenticated)."""
        with self._lock:
            self.card = card
            self._card_state = _IDLE_CARD
            self._auth = None
            self._pending = None
            self._transfer_buffer = None

    def remove(self) -> None:
        """Take the card out of the field."""
        with self._lock:
            self.card = None
            self._auth = None
            self._pending = None
            self.registers[STATUS2] &= ~CRYPTO1_ON & 0xFF

    def tear_next_write(self, keep_bytes: int = 8, after_writes: int = 0) -> None:
        """The card leaves the field during a block write, the next one after ``after_writes`` whole
        ones: the first ``keep_bytes`` of the block are the new ones, the rest keep the old bytes; then
        the card is gone."""
        with self._lock:
            self._tear_after = keep_bytes
            self._writes_before_tear = after_writes

    # The SPI side.
    def transfer(self, mosi: bytes) -> bytes:
        """One chip-select frame: MOSI bytes in, MISO bytes out (as many)."""
        with self._lock:
            if not mosi:
                return b""
            first = mosi[0]
            address = (first >> 1) & 0x3F
            miso = bytearray(len(mosi))
            if first & 0x80:
                for index in range(1, len(mosi)):
                    miso[index] = self._read(address)
                    address = (mosi[index] >> 1) & 0x3F
            else:
                for byte in mosi[1:]:
                    self._write(address, byte)
            return bytes(miso)

    def _reset(self) -> None:
        self.registers = bytearray(64)
        self.registers[VERSION] = VERSION_2_0
        self.registers[COM_IRQ] = 0x14
        self.registers[CONTROL] = 0x10
        self.registers[TX_CONTROL] = 0x80  # antenna off after reset
        self.fifo = bytearray()
        self._card_state = _IDLE_CARD
        self._auth: tuple[int, str] | None = None  # (sector, key type) after MFAuthent
        self._pending: tuple[int, int] | None = None  # (command, block) waiting for its second part
        self._transfer_buffer: int | None = None  # a value operation's result, until TRANSFER

    def _read(self, address: int) -> int:
        if address == FIFO_DATA:
            return self.fifo.pop(0) if self.fifo else 0
        if address == FIFO_LEVEL:
            return len(self.fifo)
        return self.registers[address]

    def _write(self, address: int, value: int) -> None:
        if address == FIFO_DATA:
            if len(self.fifo) < FIFO_BYTES:
                self.fifo.append(value)
            return
        if address == FIFO_LEVEL:
            if value & 0x80:
                self.fifo.clear()
            return
        if address in (COM_IRQ, DIV_IRQ):
            # Set1 (bit 7) sets the bits marked, otherwise they are cleared.
            if value & 0x80:
                self.registers[address] |= value & 0x7F
            else:
                self.registers[address] &= ~value & 0xFF
            return
        if address == STATUS2:
            self.registers[STATUS2] = value & ~0x07 & 0xFF
            if not value & CRYPTO1_ON:
                self._auth = None
            return
        self.registers[address] = value
        if address == COMMAND:
            self._command(value & 0x0F)
        elif address == BIT_FRAMING and value & 0x80 and self.registers[COMMAND] & 0x0F == TRANSCEIVE:
            self._transceive()

    def _command(self, command: int) -> None:
        if command == SOFT_RESET:
            self._reset()
        elif command == CALC_CRC:
            crc = crc_a(bytes(self.fifo))
            self.fifo.clear()
            self.registers[CRC_RESULT_L], self.registers[CRC_RESULT_H] = crc[0], crc[1]
            self.registers[DIV_IRQ] |= CRC_IRQ
            self.registers[COMMAND] = IDLE
        elif command == MF_AUTHENT:
            self._authenticate(bytes(self.fifo))
            self.fifo.clear()

    def _field_on(self) -> bool:
        return self.card is not None and self.registers[TX_CONTROL] & 0x03 == 0x03

    def _finish(self, answer: bytes | None, last_bits: int = 0) -> None:
        """End a Transceive: the answer in the FIFO (RxIRq), or the timer running out."""
        self.registers[ERROR] = 0
        self.registers[BIT_FRAMING] &= 0x7F
        if answer is None:
            self.registers[COM_IRQ] |= TX_IRQ | TIMER_IRQ
            return
        self.fifo[:] = answer[:FIFO_BYTES]
        self.registers[CONTROL] = (self.registers[CONTROL] & 0xF8) | (last_bits & 0x07)
        self.registers[COM_IRQ] |= TX_IRQ | RX_IRQ | IDLE_IRQ

    def _transceive(self) -> None:
        frame = bytes(self.fifo)
        self.fifo.clear()
        tx_last_bits = self.registers[BIT_FRAMING] & 0x07
        if not self._field_on() or not frame:
            self._finish(None)
            return
        self._finish(*self._card_answer(frame, tx_last_bits))

    def _card_answer(self, frame: bytes, tx_last_bits: int) -> tuple[bytes | None, int]:
        card = self.card
        assert card is not None
        if tx_last_bits == 7 and len(frame) == 1:
            if frame[0] == WUPA or (frame[0] == REQA and self._card_state != _HALT):
                self._card_state = _READY
                self._auth = None
                return b"\x04\x00", 0
            return None, 0
        if self._pending is not None:
            return self._second_part(card, frame)
        if frame[:2] == bytes((SELECT_CL1, 0x20)) and self._card_state == _READY:
            uid = card.uid
            return uid + bytes((uid[0] ^ uid[1] ^ uid[2] ^ uid[3],)), 0
        if not _crc_ok(frame):
            return (bytes((NAK_TRANSMISSION,)), 4) if self._card_state == _ACTIVE else (None, 0)
        body = frame[:-2]
        if body[:2] == bytes((SELECT_CL1, 0x70)) and self._card_state == _READY:
            uid = card.uid
            if body[2:7] != uid + bytes((uid[0] ^ uid[1] ^ uid[2] ^ uid[3],)):
                return None, 0
            self._card_state = _ACTIVE
            answer = bytes((SAK,))
            return answer + crc_a(answer), 0
        if body[:2] == bytes((HLTA, 0x00)):
            self._card_state = _HALT
            self._auth = None
            return None, 0
        if self._card_state != _ACTIVE or self._auth is None or len(body) != 2:
            return None, 0
        command, block = body[0], body[1]
        if block >= 64 or block // 4 != self._auth[0]:
            return bytes((NAK_NOT_ALLOWED,)), 4
        key_type = self._auth[1]
        operation = {READ: "read", WRITE: "write", DECREMENT: "decrement", INCREMENT: "increment"}.get(command)
        operation = operation or {RESTORE: "restore", TRANSFER: "transfer"}.get(command)
        if operation is None or not card.may(block, operation, key_type):
            return bytes((NAK_NOT_ALLOWED,)), 4
        if command == READ:
            data = card.read(block, key_type)
            return data + crc_a(data), 0
        if command == TRANSFER:
            if self._transfer_buffer is None:
                return bytes((NAK_NOT_ALLOWED,)), 4
            card.write(block, value_block(self._transfer_buffer, block))
            return bytes((ACK,)), 4
        if command != WRITE and read_value(bytes(card.blocks[block])) is None:
            return bytes((NAK_NOT_ALLOWED,)), 4
        self._pending = (command, block)
        return bytes((ACK,)), 4

    def _second_part(self, card: ClassicCard, frame: bytes) -> tuple[bytes | None, int]:
        command, block = self._pending or (0, 0)
        self._pending = None
        if not _crc_ok(frame):
            return bytes((NAK_TRANSMISSION,)), 4
        data = frame[:-2]
        if command == WRITE:
            if len(data) != 16:
                return bytes((NAK_NOT_ALLOWED,)), 4
            if self._tear_after is not None and self._writes_before_tear:
                self._writes_before_tear -= 1
            elif self._tear_after is not None:
                keep = self._tear_after
                self._tear_after = None
                torn = bytearray(card.blocks[block])
                torn[:keep] = data[:keep]
                card.blocks[block][:] = torn
                self.card = None  # gone from the field mid-write: no answer
                self._auth = None
                return None, 0
            card.write(block, data)
            return bytes((ACK,)), 4
        if len(data) != 4:
            return None, 0
        operand = int.from_bytes(data, "little", signed=True)
        value = read_value(bytes(card.blocks[block]))
        assert value is not None
        if command == INCREMENT:
            value += operand
        elif command == DECREMENT:
            value -= operand
        self._transfer_buffer = value
        return None, 0  # the card does not answer the second part of a value operation

    def _authenticate(self, request: bytes) -> None:
        """MFAuthent: [AUTH_A or AUTH_B, block, key (6), UID (4)]. Success sets MFCrypto1On; a wrong key,
        a wrong UID or no card runs the timer out, as the chip does."""
        self._transfer_buffer = None
        card = self.card
        ok = (
            self._field_on()
            and card is not None
            and self._card_state == _ACTIVE
            and len(request) == 12
            and request[0] in (AUTH_A, AUTH_B)
            and request[1] < 64
            and request[8:12] == card.uid
        )
        if ok and card is not None:
            sector = request[1] // 4
            key_type = KEY_A if request[0] == AUTH_A else KEY_B
            ok = card.key_usable(sector, key_type) and card.key(sector, key_type) == request[2:8]
            if ok:
                self._auth = (sector, key_type)
        if ok:
            self.registers[STATUS2] |= CRYPTO1_ON
            self.registers[COM_IRQ] |= IDLE_IRQ
        else:
            self._auth = None
            self.registers[STATUS2] &= ~CRYPTO1_ON & 0xFF
            self.registers[COM_IRQ] |= TIMER_IRQ
            self.registers[ERROR] = PROTOCOL_ERR if card is not None else 0
        self.registers[COMMAND] = IDLE


def _crc_ok(frame: bytes) -> bool:
    return len(frame) >= 3 and crc_a(frame[:-2]) == frame[-2:]
