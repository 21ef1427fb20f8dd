"""The MFRC522 and MIFARE Classic 1K emulator, driven with the chip's own SPI bytes.

The frames and CRCs are the ones in ISO/IEC 14443-3 and NXP's datasheets, so
the firmware's driver and the emulator are each held to the standard, not to
each other.
"""

import pytest

from boards.sim.world import mfrc522 as chip
from boards.sim.world.mifare import (
    TRANSPORT_KEY,
    ClassicCard,
    access_bytes,
    manufacturer_block,
    read_value,
    trailer_of,
    value_block,
)

UID = bytes.fromhex("a1b2c3d4")
KEY = bytes.fromhex("0102030405a6")


class Host:
    """What a driver does over SPI, spelled out register by register."""

    def __init__(self, reader):
        self.reader = reader

    def write(self, register, *values):
        self.reader.transfer(bytes([register << 1, *values]))

    def read(self, register, count=1):
        address = 0x80 | (register << 1)
        return self.reader.transfer(bytes([address] * count + [0]))[1:]

    def transceive(self, frame, last_bits=0):
        """Send ``frame``; (answer bytes, valid bits of the last byte) or None if the timer ran out."""
        self.write(chip.COMMAND, chip.IDLE)
        self.write(chip.COM_IRQ, 0x7F)
        self.write(chip.FIFO_LEVEL, 0x80)
        self.write(chip.FIFO_DATA, *frame)
        self.write(chip.COMMAND, chip.TRANSCEIVE)
        self.write(chip.BIT_FRAMING, 0x80 | last_bits)
        irq = self.read(chip.COM_IRQ)[0]
        if irq & chip.TIMER_IRQ or not irq & chip.RX_IRQ:
            return None
        count = self.read(chip.FIFO_LEVEL)[0]
        return self.read(chip.FIFO_DATA, count), self.read(chip.CONTROL)[0] & 0x07

    def crc(self, data):
        self.write(chip.COMMAND, chip.IDLE)
        self.write(chip.DIV_IRQ, 0x04)
        self.write(chip.FIFO_LEVEL, 0x80)
        self.write(chip.FIFO_DATA, *data)
        self.write(chip.COMMAND, chip.CALC_CRC)
        assert self.read(chip.DIV_IRQ)[0] & chip.CRC_IRQ
        return bytes([self.read(chip.CRC_RESULT_L)[0], self.read(chip.CRC_RESULT_H)[0]])

    def with_crc(self, data):
        return bytes(data) + self.crc(data)

    def select(self, uid=UID):
        self.write(chip.TX_CONTROL, 0x83)
        assert self.transceive([chip.REQA], last_bits=7) == (b"\x04\x00", 0)
        answer, _ = self.transceive([chip.SELECT_CL1, 0x20])
        assert answer[:4] == uid
        sak, _ = self.transceive(self.with_crc(bytes([chip.SELECT_CL1, 0x70]) + answer))
        return sak

    def authenticate(self, block, key, key_type=chip.AUTH_A, uid=UID):
        self.write(chip.COMMAND, chip.IDLE)
        self.write(chip.COM_IRQ, 0x7F)
        self.write(chip.FIFO_LEVEL, 0x80)
        self.write(chip.FIFO_DATA, key_type, block, *key, *uid)
        self.write(chip.COMMAND, chip.MF_AUTHENT)
        return bool(self.read(chip.STATUS2)[0] & chip.CRYPTO1_ON)

    def read_block(self, block):
        return self.transceive(self.with_crc([chip.READ, block]))

    def write_block(self, block, data):
        first = self.transceive(self.with_crc([chip.WRITE, block]))
        if first != (bytes([chip.ACK]), 4):
            return first
        return self.transceive(self.with_crc(data))


def issued_card():
    """Sector 1 under KEY: blocks 4-6 data (key A or B), block 5 a value block; key B not readable."""
    card = ClassicCard(UID)
    card.blocks[5][:] = value_block(1000, 5)
    card.blocks[trailer_of(1)][:] = KEY + access_bytes([(0, 0, 0), (1, 1, 0), (0, 0, 0), (0, 1, 1)]) + KEY
    return card


@pytest.fixture
def host():
    reader = chip.Mfrc522()
    reader.present(issued_card())
    return Host(reader)


def test_crc_a_matches_the_standard_and_known_frames():
    assert chip.crc_a(b"\x00\x00") == b"\xa0\x1e"  # ISO/IEC 14443-3, annex B
    assert chip.crc_a(b"\x12\x34") == b"\x26\xcf"
    assert chip.crc_a(b"\x50\x00") == b"\x57\xcd"  # HLTA
    assert chip.crc_a(b"\x30\x00") == b"\x02\xa8"  # READ block 0


def test_the_version_register_and_a_soft_reset():
    host = Host(chip.Mfrc522())
    assert host.read(chip.VERSION) == b"\x92"
    host.write(chip.TX_CONTROL, 0x83)
    host.write(chip.COMMAND, chip.SOFT_RESET)
    assert host.read(chip.TX_CONTROL)[0] & 0x03 == 0


def test_the_chip_computes_crc_a(host):
    assert host.crc(b"\x50\x00") == b"\x57\xcd"


def test_request_anticollision_and_select_answer_as_the_standard_says(host):
    assert host.select() == b"\x08\xb6\xdd"  # SAK 08 and its CRC_A, as readers trace it


def test_no_card_or_no_field_runs_the_timer_out():
    reader = chip.Mfrc522()
    host = Host(reader)
    host.write(chip.TX_CONTROL, 0x83)
    assert host.transceive([chip.REQA], last_bits=7) is None
    reader.present(issued_card())
    host.write(chip.TX_CONTROL, 0x80)  # antenna off
    assert host.transceive([chip.REQA], last_bits=7) is None


def test_a_halted_card_answers_wupa_only(host):
    host.select()
    assert host.transceive(host.with_crc([chip.HLTA, 0x00])) is None
    assert host.transceive([chip.REQA], last_bits=7) is None
    assert host.transceive([chip.WUPA], last_bits=7) == (b"\x04\x00", 0)


def test_authentication_needs_the_sectors_key_and_the_cards_uid(host):
    host.select()
    assert not host.authenticate(4, TRANSPORT_KEY)
    assert host.read(chip.COM_IRQ)[0] & chip.TIMER_IRQ
    assert not host.authenticate(4, KEY, uid=bytes(4))
    assert host.authenticate(4, KEY)
    assert host.authenticate(4, KEY, chip.AUTH_B)


def test_a_block_reads_back_with_its_crc_and_key_a_reads_as_zeros(host):
    host.select()
    host.authenticate(4, KEY)
    data, bits = host.read_block(5)
    assert (data[:16], data[16:], bits) == (value_block(1000, 5), chip.crc_a(value_block(1000, 5)), 0)
    trailer, _ = host.read_block(7)
    assert trailer[:6] == bytes(6) and trailer[10:16] == bytes(6)


def test_a_block_of_another_sector_needs_its_own_authentication(host):
    host.select()
    host.authenticate(4, KEY)
    assert host.read_block(8) == (bytes([chip.NAK_NOT_ALLOWED]), 4)


def test_a_write_is_two_frames_each_acknowledged_with_four_bits(host):
    host.select()
    host.authenticate(4, KEY)
    data = bytes(range(16))
    assert host.write_block(4, data) == (bytes([chip.ACK]), 4)
    assert host.read_block(4)[0][:16] == data


def test_the_access_bits_decide_who_may_write(host):
    host.select()
    host.authenticate(4, KEY)  # key A
    assert host.write_block(5, bytes(16)) == (bytes([chip.NAK_NOT_ALLOWED]), 4)  # block 5: write with B only
    host.authenticate(4, KEY, chip.AUTH_B)
    assert host.write_block(5, value_block(7, 5)) == (bytes([chip.ACK]), 4)


def test_decrement_then_transfer_changes_the_value_block(host):
    host.select()
    host.authenticate(4, KEY)
    assert host.transceive(host.with_crc([chip.DECREMENT, 5])) == (bytes([chip.ACK]), 4)
    assert host.transceive(host.with_crc((250).to_bytes(4, "little"))) is None  # the card does not answer
    assert host.transceive(host.with_crc([chip.TRANSFER, 5])) == (bytes([chip.ACK]), 4)
    assert read_value(bytes(host.reader.card.blocks[5])) == 750


def test_increment_needs_key_b_on_a_value_block(host):
    host.select()
    host.authenticate(4, KEY)
    assert host.transceive(host.with_crc([chip.INCREMENT, 5])) == (bytes([chip.NAK_NOT_ALLOWED]), 4)


def test_a_value_operation_on_a_block_that_is_not_a_value_block_is_refused(host):
    host.select()
    host.authenticate(4, KEY)
    assert host.transceive(host.with_crc([chip.DECREMENT, 4])) == (bytes([chip.NAK_NOT_ALLOWED]), 4)


def test_a_frame_with_a_bad_crc_gets_a_transmission_nak(host):
    host.select()
    host.authenticate(4, KEY)
    assert host.transceive([chip.READ, 4, 0, 0]) == (bytes([chip.NAK_TRANSMISSION]), 4)


def test_a_card_pulled_in_the_middle_of_a_write_keeps_part_of_the_block_and_is_gone(host):
    host.select()
    host.authenticate(4, KEY)
    old = bytes(host.reader.card.blocks[4])
    card = host.reader.card
    host.reader.tear_next_write(keep_bytes=6)
    assert host.write_block(4, b"\xee" * 16) is None
    assert bytes(card.blocks[4]) == b"\xee" * 6 + old[6:]
    assert host.reader.card is None


def test_block_zero_is_read_only_except_on_a_magic_card():
    for magic, allowed in ((False, False), (True, True)):
        card = ClassicCard(UID, magic=magic)
        assert card.may(0, "write", "A") is allowed
    assert bytes(ClassicCard(UID).blocks[0][:6]) == UID + bytes([0xA1 ^ 0xB2 ^ 0xC3 ^ 0xD4, 0x08])
    assert manufacturer_block(UID)[6:8] == b"\x04\x00"


def test_a_dump_written_to_a_magic_card_is_the_same_card():
    original = issued_card()
    clone = ClassicCard.from_dump(original.dump())
    assert clone.magic and clone.uid == UID and clone.dump() == original.dump()


def test_access_bits_that_contradict_themselves_lock_the_sector():
    card = issued_card()
    card.blocks[7][6] ^= 0x01
    assert card.conditions(4) == (1, 1, 1)
    assert not card.may(4, "read", "A")


def test_transport_access_bits_are_nxps_delivery_state():
    assert access_bytes([(0, 0, 0)] * 3 + [(0, 0, 1)]) == bytes.fromhex("ff078069")
