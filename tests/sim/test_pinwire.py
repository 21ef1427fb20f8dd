"""The pin bus host end, driven by a plain asyncio TCP client standing in for the VM."""

import asyncio
import time

import pytest

from boards.sim.world.lcd import Hd44780Lcd
from boards.sim.world.pinwire import PinWire

READ_TIMEOUT_S = 1.0


class FakeVmEnd:
    """The VM's side of the bus: a real TCP connection speaking the line protocol."""

    @classmethod
    async def connect(cls, port):
        vm = cls()
        vm.reader, vm.writer = await asyncio.open_connection("127.0.0.1", port)
        return vm

    async def send(self, *lines):
        for line in lines:
            self.writer.write(line if isinstance(line, bytes) else line.encode() + b"\n")
        await self.writer.drain()

    async def read_line(self):
        raw = await asyncio.wait_for(self.reader.readline(), READ_TIMEOUT_S)
        return time.monotonic(), raw.decode().rstrip("\n")

    async def read_lines(self, count):
        return [(await self.read_line())[1] for _ in range(count)]

    async def close(self):
        self.writer.close()
        await self.writer.wait_closed()


async def test_outputs_hello_and_i2c_writes_reach_the_world(wait_until):
    async with PinWire() as wire:
        assert wire.port > 0
        changes = []
        wire.on_output(5, lambda gpio, level, t: changes.append((gpio, level, t)))
        lcd = Hd44780Lcd()
        wire.on_i2c(0x27, lcd.feed)
        vm = await FakeVmEnd.connect(wire.port)
        await asyncio.wait_for(wire.connected.wait(), READ_TIMEOUT_S)
        t_sent = time.monotonic()
        # 0x3C/0x38: nibble 3 with EN high then low, backlight on.
        await vm.send("H sim-board fw 0.1", "O 5 1", "O 6 0", "O 5 1", "O 5 0", "W 39 3c38 3c38")
        await wait_until(lambda: len(changes) == 2 and lcd.instructions == 2)
        assert wire.hello == "sim-board fw 0.1"
        assert wire.outputs == {5: 0, 6: 0}
        assert [(g, lvl) for g, lvl, _ in changes] == [(5, 1), (5, 0)]
        assert all(t_sent <= t <= time.monotonic() for _, _, t in changes)
        await vm.send("W 16 0011")
        await wait_until(lambda: wire.unhandled_i2c_writes == 1)
        await vm.close()


async def test_drive_and_contact_send_lines_to_the_vm():
    async with PinWire() as wire:
        vm = await FakeVmEnd.connect(wire.port)
        await asyncio.wait_for(wire.connected.wait(), READ_TIMEOUT_S)
        await wire.drive(4, 0)
        await wire.contact(12, 20, True)
        await wire.contact(12, 20, False)
        assert await vm.read_lines(3) == ["L 4 0", "S 12 20 1", "S 12 20 0"]
        with pytest.raises(ValueError):
            await wire.drive(4, 2)
        await vm.close()


async def test_coin_pulses_are_active_low_and_timed():
    async with PinWire() as wire:
        vm = await FakeVmEnd.connect(wire.port)
        await asyncio.wait_for(wire.connected.wait(), READ_TIMEOUT_S)
        pulsing = asyncio.create_task(wire.pulse(14, 3, low_ms=30, high_ms=40))
        received = [await vm.read_line() for _ in range(7)]
        await pulsing
        assert [line for _, line in received] == ["L 14 1"] + ["L 14 0", "L 14 1"] * 3
        edges = [t for t, _ in received[1:]]
        lows = [edges[i + 1] - edges[i] for i in range(0, 6, 2)]
        highs = [edges[i + 1] - edges[i] for i in range(1, 5, 2)]
        assert all(0.025 <= d <= 0.045 for d in lows)
        assert all(0.035 <= d <= 0.055 for d in highs)
        assert edges[-1] - edges[0] == pytest.approx(0.030 * 3 + 0.040 * 2, abs=0.015)
        # Already idle high: the next coin starts straight with a low edge.
        await wire.pulse(14, 1, low_ms=1, high_ms=1)
        assert await vm.read_lines(2) == ["L 14 0", "L 14 1"]
        await vm.close()


async def test_malformed_lines_are_counted_and_the_bus_keeps_working(wait_until):
    async with PinWire() as wire:
        vm = await FakeVmEnd.connect(wire.port)
        await vm.send("X what", "O 5 2", "O 5", "O five 1", "W 39 zz", "W x 00", b"\xff\xfe\n", "")
        await vm.send("O 7 1")
        await wait_until(lambda: wire.outputs.get(7) == 1)
        assert wire.malformed_lines == 8
        await vm.close()


async def test_a_failing_world_callback_does_not_break_the_bus(wait_until):
    async with PinWire() as wire:

        def broken(_gpio, _level, _t):
            raise RuntimeError("world bug")

        wire.on_output(2, broken)
        vm = await FakeVmEnd.connect(wire.port)
        await vm.send("O 2 1", "O 3 1")
        await wait_until(lambda: wire.outputs.get(3) == 1)
        assert wire.callback_errors == 1
        await vm.close()


async def test_a_restarted_vm_gets_the_world_state_again(wait_until):
    async with PinWire() as wire:
        await wire.drive(9, 0)  # before any VM: kept, and sent on connect
        first = await FakeVmEnd.connect(wire.port)
        assert await first.read_lines(1) == ["L 9 0"]
        await wire.contact(1, 2, True)
        await first.read_lines(1)
        await first.send("O 5 1")
        await wait_until(lambda: wire.outputs == {5: 1})
        await first.close()
        await wait_until(lambda: not wire.connected.is_set())
        assert wire.outputs == {}

        second = await FakeVmEnd.connect(wire.port)
        assert await second.read_lines(2) == ["L 9 0", "S 1 2 1"]
        await asyncio.wait_for(wire.connected.wait(), READ_TIMEOUT_S)
        assert wire.connections == 2
        await second.send("O 5 1")
        await wait_until(lambda: wire.outputs == {5: 1})
        await second.close()


async def test_a_new_connection_replaces_a_stale_one(wait_until):
    async with PinWire() as wire:
        stale = await FakeVmEnd.connect(wire.port)
        await wait_until(lambda: wire.connections == 1)
        fresh = await FakeVmEnd.connect(wire.port)
        await wait_until(lambda: wire.connections == 2)
        assert await asyncio.wait_for(stale.reader.read(), READ_TIMEOUT_S) == b""
        await wire.drive(3, 1)
        assert await fresh.read_lines(1) == ["L 3 1"]
        assert wire.connected.is_set()
        await fresh.close()
        await stale.close()
