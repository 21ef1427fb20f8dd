"""Meter emulators end to end: a real pymodbus client, the paced link, the real pymodbus server."""

import contextlib
import struct
import time

import pytest
from pymodbus.client import AsyncModbusSerialClient
from pymodbus.exceptions import ModbusIOException

from boards.sim.world.meter_server import MeterModel, start_meter_server
from boards.sim.world.serial_link import SerialLink, char_time_s

BAUD = 9600
# Short, so the tests that expect silence do not wait long; replies come in ~100 ms.
CLIENT_TIMEOUT_S = 0.4
ILLEGAL_FUNCTION = 0x01
ILLEGAL_ADDRESS = 0x02


@contextlib.asynccontextmanager
async def meter_bus(profile, model):
    async with SerialLink(baudrate=BAUD) as link:
        server = await start_meter_server(profile, link.peer_path, BAUD, model)
        client = AsyncModbusSerialClient(link.device_path, baudrate=BAUD, timeout=CLIENT_TIMEOUT_S, retries=0)
        try:
            assert await client.connect()
            yield link, client
        finally:
            client.close()
            await server.stop()


def _floats(registers, reg):
    return struct.unpack(">f", struct.pack(">HH", registers[reg], registers[reg + 1]))[0]


def test_model_accumulates_energy_and_derives_current():
    model = MeterModel()
    model.set_power(1, 360.0)
    model.advance(10.0)
    model.advance(10.0)
    assert model.ports[1].energy_wh == pytest.approx(2.0)
    assert model.ports[2].energy_wh == 0.0
    assert model.ports[1].current_a == pytest.approx(360.0 / 230.0)
    model.set_voltage(0.0)
    assert model.ports[1].current_a == 0.0


async def test_mc10_serves_the_whole_map_in_one_read():
    model = MeterModel()
    model.set_voltage(231.4)
    model.set_power(1, 150.4)
    model.set_power(3, 70000.0)  # a short circuit saturates the u16
    model.ports[2].energy_wh = 123456.9
    model.ports[10].energy_wh = 7.0
    model.set_fault(4, True)
    model.set_fault(10, True)
    async with meter_bus("mc10", model) as (_link, client):
        reply = await client.read_input_registers(0, count=42, device_id=1)
    regs = reply.registers
    assert len(regs) == 42
    assert regs[0x0000] == 2314
    assert regs[0x0001] == round(150.4 / 231.4 * 1000)  # port 1 current, mA
    assert regs[0x0003] == 0xFFFF  # port 3 current saturates too
    assert regs[0x0002] == 0
    assert regs[0x000B] == 150  # port 1 power, W
    assert regs[0x000D] == 0xFFFF
    assert regs[0x000C] == 0
    assert (regs[0x0017] << 16) | regs[0x0018] == 123456  # port 2 energy, Wh, high word first
    assert (regs[0x0027] << 16) | regs[0x0028] == 7  # port 10 energy
    assert regs[0x0029] == (1 << 3) | (1 << 9)


async def test_mc10_read_takes_its_wire_time():
    async with meter_bus("mc10", MeterModel()) as (link, client):
        t0 = time.monotonic()
        await client.read_input_registers(0, count=42, device_id=1)
        elapsed = time.monotonic() - t0
        # 8-byte request + 89-byte reply (1 + 1 + 1 + 84 + 2).
        assert elapsed >= 97 * char_time_s(BAUD)
        assert link.bytes_to_device == 8
        assert link.bytes_to_firmware == 89


async def test_mc10_refuses_reads_outside_its_map_and_other_functions():
    async with meter_bus("mc10", MeterModel()) as (_link, client):
        past_end = await client.read_input_registers(40, count=3, device_id=1)
        assert past_end.isError() and past_end.exception_code == ILLEGAL_ADDRESS
        beyond = await client.read_input_registers(42, count=1, device_id=1)
        assert beyond.isError() and beyond.exception_code == ILLEGAL_ADDRESS
        holding = await client.read_holding_registers(0, count=2, device_id=1)
        assert holding.isError() and holding.exception_code == ILLEGAL_FUNCTION
        last = await client.read_input_registers(0x0029, count=1, device_id=1)
        assert last.registers == [0]


async def test_mc10_answers_only_at_address_1_and_can_be_silenced():
    model = MeterModel()
    async with meter_bus("mc10", model) as (_link, client):
        with pytest.raises(ModbusIOException):
            await client.read_input_registers(0, count=1, device_id=2)
        model.set_enabled(1, False)
        with pytest.raises(ModbusIOException):
            await client.read_input_registers(0, count=1, device_id=1)
        assert model.requests_served == 0
        model.set_enabled(1, True)
        reply = await client.read_input_registers(0, count=1, device_id=1)
        assert reply.registers == [2300]
        assert model.requests_served == 1


async def test_mc10_values_are_read_live_at_request_time():
    model = MeterModel()
    async with meter_bus("mc10", model) as (_link, client):
        model.set_power(5, 120.0)
        first = await client.read_input_registers(0x000F, count=1, device_id=1)
        model.set_power(5, 180.0)
        second = await client.read_input_registers(0x000F, count=1, device_id=1)
    assert (first.registers, second.registers) == ([120], [180])


async def test_sdm120_serves_floats_per_port_address():
    model = MeterModel()
    model.set_voltage(229.5)
    for port in model.ports:
        model.set_power(port, 10.0 * port)
    model.ports[3].energy_wh = 1234.5
    async with meter_bus("sdm120", model) as (_link, client):
        for port in (3, 10):
            reply = await client.read_input_registers(0, count=0x50, device_id=port)
            regs = reply.registers
            assert _floats(regs, 0x0000) == pytest.approx(229.5)
            assert _floats(regs, 0x0006) == pytest.approx(10.0 * port / 229.5)
            assert _floats(regs, 0x000C) == pytest.approx(10.0 * port)
            expected_kwh = 1.2345 if port == 3 else 0.0
            assert _floats(regs, 0x0048) == pytest.approx(expected_kwh)
            named = {0x00, 0x01, 0x06, 0x07, 0x0C, 0x0D, 0x48, 0x49}
            assert all(regs[reg] == 0 for reg in range(0x50) if reg not in named)


async def test_sdm120_refuses_reads_outside_its_map():
    async with meter_bus("sdm120", MeterModel()) as (_link, client):
        reply = await client.read_input_registers(0x4E, count=4, device_id=1)
        assert reply.isError() and reply.exception_code == ILLEGAL_ADDRESS


async def test_sdm120_one_meter_can_be_made_silent():
    model = MeterModel()
    model.set_power(6, 99.0)
    model.set_enabled(5, False)
    async with meter_bus("sdm120", model) as (_link, client):
        with pytest.raises(ModbusIOException):
            await client.read_input_registers(0x000C, count=2, device_id=5)
        reply = await client.read_input_registers(0x000C, count=2, device_id=6)
        assert _floats(reply.registers, 0) == pytest.approx(99.0)
        with pytest.raises(ModbusIOException):
            await client.read_input_registers(0, count=2, device_id=11)


async def test_trip_probe_records_the_first_reply_serving_power_above_threshold():
    model = MeterModel()
    model.arm_trip_probe(3, threshold_w=500.0)
    async with meter_bus("mc10", model) as (_link, client):
        model.set_power(3, 300.0)
        await client.read_input_registers(0, count=42, device_id=1)
        assert model.trip_probe_served_at is None
        model.set_power(3, 2000.0)
        # A read that does not include port 3's power register serves nothing to the probe.
        await client.read_input_registers(0, count=11, device_id=1)
        assert model.trip_probe_served_at is None
        t_before = time.monotonic()
        await client.read_input_registers(0, count=42, device_id=1)
        t_after = time.monotonic()
        served_at = model.trip_probe_served_at
        assert served_at is not None and t_before <= served_at <= t_after
        await client.read_input_registers(0, count=42, device_id=1)
        assert model.trip_probe_served_at == served_at


async def test_trip_probe_watches_only_its_own_sdm120_address():
    model = MeterModel()
    model.arm_trip_probe(2, threshold_w=100.0)
    model.set_power(1, 1000.0)
    model.set_power(2, 1000.0)
    async with meter_bus("sdm120", model) as (_link, client):
        await client.read_input_registers(0x000C, count=2, device_id=1)
        assert model.trip_probe_served_at is None
        await client.read_input_registers(0x000C, count=2, device_id=2)
        assert model.trip_probe_served_at is not None
