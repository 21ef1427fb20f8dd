"""The MFRC522 driver (drivers/mfrc522.py) on the MicroPython VM, against the emulated chip and card
over the SPI link (boards/sim/world/spi_link.py).

The VM runs a small harness: each line the test writes on its stdin is a
Python expression over ``reader`` (the driver) and ``block`` (a 16-byte
buffer); an awaitable is awaited; the answer comes back as one JSON line.
"""

import asyncio

import pytest

from boards.sim.world import mfrc522 as chip
from boards.sim.world.mifare import ClassicCard, access_bytes, read_value, trailer_of, value_block
from boards.sim.world.spi_link import SpiLink
from boards.sim.world.vm import micropython_executable
from tests.sim.driver_vm import DriverVm

UID = bytes.fromhex("a1b2c3d4")
KEY = bytes.fromhex("0102030405a6")

_HARNESS = """
import asyncio, json, sys
from binascii import hexlify, unhexlify
from boards.sim.simhw import SPI
from drivers.mfrc522 import AUTH_A, AUTH_B, WUPA, Mfrc522
class ChipSelect:
    def __init__(self):
        self.level = None
    def value(self, level=None):
        if level is None:
            return self.level
        self.level = level
cs = ChipSelect()
reader = Mfrc522(SPI(sys.argv[1]), cs)
block = bytearray(16)
async def main():
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        try:
            value = eval(line)
            if hasattr(value, "send"):
                value = await value
            if isinstance(value, (bytes, bytearray)):
                value = hexlify(value).decode()
            print(json.dumps({"ok": value, "cs": cs.level}))
        except Exception as error:
            print(json.dumps({"error": repr(error)}))
asyncio.run(main())
"""


def issued_card():
    """Sector 1 under KEY: block 4 data, block 5 a value block (increment with key B only)."""
    card = ClassicCard(UID)
    card.blocks[4][:] = bytes(range(16))
    card.blocks[5][:] = value_block(1000, 5)
    card.blocks[trailer_of(1)][:] = KEY + access_bytes([(0, 0, 0), (1, 1, 0), (0, 0, 0), (0, 1, 1)]) + KEY
    return card


class VmReader:
    """The driver in a VM and the chip on the host, joined by the SPI link."""

    def __init__(self):
        self.chip = chip.Mfrc522()
        self.link = SpiLink(self.chip)
        self.vm = None

    async def __aenter__(self):
        self.link.start()
        self.vm = DriverVm(_HARNESS, self.link.device_path)
        await self.vm.start()
        assert await self.ok("reader.reset()") == chip.VERSION_2_0
        return self

    async def __aexit__(self, *_exc):
        await self.vm.stop()
        self.link.close()

    async def ok(self, expression):
        """The value of ``expression`` in the VM, which must not raise; chip select must be released."""
        reply = await self.vm.call(expression)
        assert "ok" in reply, reply
        assert reply["cs"] == 1, "chip select left low"
        return reply["ok"]

    async def selected(self, card=None):
        """Present ``card`` (an issued one by default) and select it; its UID as hex."""
        self.chip.present(card or issued_card())
        assert await self.ok("reader.request()") is True
        uid = await self.ok("reader.anticollision()")
        assert await self.ok(f"reader.select(unhexlify({uid!r}))") == 0x08
        return uid


def run(coroutine):
    asyncio.run(asyncio.wait_for(coroutine, 30))


@pytest.fixture(autouse=True)
def _vm_available():
    micropython_executable()


def test_reset_turns_the_antenna_on_and_no_card_answers_nothing():
    async def scenario():
        async with VmReader() as vm:
            assert vm.chip.registers[chip.TX_CONTROL] & 0x03 == 0x03
            assert await vm.ok("reader.request()") is False

    run(scenario())


def test_a_card_is_found_its_uid_read_and_selected():
    async def scenario():
        async with VmReader() as vm:
            assert await vm.selected() == UID.hex()

    run(scenario())


def test_authentication_with_a_wrong_key_fails_and_with_the_sectors_key_reads_the_block():
    async def scenario():
        async with VmReader() as vm:
            uid = await vm.selected()
            assert await vm.ok(f"reader.authenticate(4, b'\\xff' * 6, unhexlify({uid!r}))") is False
            await vm.selected()
            assert await vm.ok(f"reader.authenticate(4, unhexlify({KEY.hex()!r}), unhexlify({uid!r}))") is True
            assert await vm.ok("reader.read(4, block)") is True
            assert await vm.ok("block") == bytes(range(16)).hex()

    run(scenario())


def test_a_block_written_is_on_the_card():
    async def scenario():
        async with VmReader() as vm:
            uid = await vm.selected()
            await vm.ok(f"reader.authenticate(4, unhexlify({KEY.hex()!r}), unhexlify({uid!r}))")
            assert await vm.ok("reader.write(6, b'\\x5a' * 16)") is True
            assert bytes(vm.chip.card.blocks[6]) == b"\x5a" * 16

    run(scenario())


def test_value_operations_change_the_value_block_and_the_access_bits_are_obeyed():
    async def scenario():
        async with VmReader() as vm:
            uid = await vm.selected()
            await vm.ok(f"reader.authenticate(4, unhexlify({KEY.hex()!r}), unhexlify({uid!r}))")
            assert await vm.ok("reader.decrement(5, 250)") is True
            assert await vm.ok("reader.transfer(5)") is True
            assert read_value(bytes(vm.chip.card.blocks[5])) == 750
            assert await vm.ok("reader.increment(5, 100)") is False  # key B only
            await vm.ok(f"reader.authenticate(4, unhexlify({KEY.hex()!r}), unhexlify({uid!r}), AUTH_B)")
            assert await vm.ok("reader.increment(5, 100)") is True
            assert await vm.ok("reader.transfer(5)") is True
            assert await vm.ok("reader.restore(5)") is True
            assert await vm.ok("reader.transfer(6)") is True
            assert read_value(bytes(vm.chip.card.blocks[6])) == 850

    run(scenario())


def test_a_card_taken_away_or_pulled_mid_write_gives_false_never_an_exception():
    async def scenario():
        async with VmReader() as vm:
            uid = await vm.selected()
            await vm.ok(f"reader.authenticate(4, unhexlify({KEY.hex()!r}), unhexlify({uid!r}))")
            card = vm.chip.card
            vm.chip.tear_next_write(keep_bytes=5)
            assert await vm.ok("reader.write(4, b'\\xee' * 16)") is False
            assert bytes(card.blocks[4]) == b"\xee" * 5 + bytes(range(5, 16))
            assert await vm.ok("reader.read(4, block)") is False
            assert await vm.ok("reader.request()") is False

    run(scenario())


def test_a_halted_card_wakes_only_to_wupa():
    async def scenario():
        async with VmReader() as vm:
            await vm.selected()
            await vm.ok("reader.halt()")
            assert await vm.ok("reader.request()") is False
            assert await vm.ok("reader.request(WUPA)") is True

    run(scenario())
