"""Register decoding and the Modbus CRC, checked against struct and a known frame."""

import struct

from drivers.modbus_rtu import crc16
from drivers.registers import INVALID, decode, f32_scaled


def words_of(value):
    raw = struct.pack(">f", value)
    return (raw[0] << 8) | raw[1], (raw[2] << 8) | raw[3]


def test_f32_matches_struct_within_precision():
    for value, scale in ((229.7, 10), (0.683, 1000), (151.25, 1), (12345.678, 1000), (0.004, 1000), (-35.5, 1)):
        high, low = words_of(value)
        got = f32_scaled(high, low, scale)
        want = value * scale
        assert abs(got - want) <= abs(want) / 100000 + 1, (value, scale, got)


def test_f32_zero_and_nan():
    assert f32_scaled(0, 0, 1000) == 0
    assert f32_scaled(0x7FC0, 0, 1) == INVALID


def test_decode_types_and_word_order():
    data = bytes([0x12, 0x34, 0xFF, 0xFE, 0x00, 0x01, 0x00, 0x02])
    assert decode(data, 0, "u16", 1, True) == 0x1234
    assert decode(data, 1, "s16", 1, True) == -2
    assert decode(data, 2, "u32", 1, True) == 0x00010002
    assert decode(data, 2, "u32", 1, False) == 0x00020001
    high, low = words_of(230.0)
    raw = bytes([low >> 8, low & 255, high >> 8, high & 255])
    assert decode(raw, 0, "f32", 10, False) == 2300


def test_crc16_known_frame():
    frame = bytes([0x01, 0x03, 0x00, 0x00, 0x00, 0x0A])
    crc = crc16(frame, 6)
    assert (crc & 0xFF, crc >> 8) == (0xC5, 0xCD)
    assert crc16(frame + bytes([0xC5, 0xCD]), 8) == 0
