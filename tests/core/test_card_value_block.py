"""MIFARE Classic value blocks (NXP MF1S50 datasheet, "value blocks"), on CPython and MicroPython."""

from firmware.card import value_block


def block_hex(value, address):
    block = bytearray(16)
    value_block.encode(value, address, block)
    return block.hex()


def test_a_value_is_kept_three_times_the_middle_inverted_and_the_address_four_times():
    # 1234567 = 0x0012D687, little-endian; address 0x11.
    assert block_hex(1234567, 0x11) == "87d612007829edff87d6120011ee11ee"


def test_negative_values_are_twos_complement():
    assert block_hex(-1, 4) == "ffffffff00000000ffffffff04fb04fb"
    for value in (-1, -2147483648, 0, 2147483647, 99):
        assert value_block.decode(bytes.fromhex(block_hex(value, 9))) == (value, 9)


def test_every_single_bit_flip_is_refused():
    good = bytes.fromhex(block_hex(1234567, 0x11))
    for index in range(16):
        for bit in range(8):
            bad = bytearray(good)
            bad[index] ^= 1 << bit
            assert value_block.decode(bad) is None, (index, bit)


def test_a_short_block_is_refused():
    assert value_block.decode(bytes(15)) is None


def test_values_and_addresses_out_of_range_are_refused():
    for value, address in ((2147483648, 4), (-2147483649, 4), (0, 256), (0, -1)):
        try:
            block_hex(value, address)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % ((value, address),))
