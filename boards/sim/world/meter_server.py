"""The emulated RS485 meters, served by a real pymodbus RTU server.

Register images are built from a live `MeterModel` at the moment each request is served
(pymodbus 3.16 `SimDevice(action=...)` hook), so the firmware always reads what the
world measures right now. Two profiles:

- "mc10": our 10-circuit meter at slave address 1, input registers, integers.
- "sdm120": ten Eastron SDM120 meters at slave addresses 1..10, input registers, float32.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

PORT_COUNT = 10
DEFAULT_VOLTAGE_V = 230.0
READ_INPUT_REGISTERS = 0x04
U16_MAX = 0xFFFF
U32_MASK = 0xFFFFFFFF
WH_PER_KWH = 1000.0
S_PER_H = 3600.0

MC10_ADDRESS = 1
MC10_REG_VOLTAGE = 0x0000
MC10_REG_CURRENT = 0x0001
MC10_REG_POWER = 0x000B
MC10_REG_ENERGY = 0x0015
MC10_REG_FAULTS = 0x0029
MC10_REGISTER_COUNT = 42

SDM120_REG_VOLTAGE = 0x0000
SDM120_REG_CURRENT = 0x0006
SDM120_REG_POWER = 0x000C
SDM120_REG_IMPORT_KWH = 0x0048
SDM120_REGISTER_COUNT = 0x50


@dataclass
class PortReading:
    """What the meter measures on one port right now."""

    voltage_v: float = DEFAULT_VOLTAGE_V
    power_w: float = 0.0
    energy_wh: float = 0.0
    fault: bool = False

    @property
    def current_a(self) -> float:
        """Current derived from power and voltage (resistive loads; good enough here)."""
        return self.power_w / self.voltage_v if self.voltage_v > 0 else 0.0


class MeterModel:
    """Live per-port values the world writes and the meter server reads."""

    def __init__(self, port_count: int = PORT_COUNT, voltage_v: float = DEFAULT_VOLTAGE_V) -> None:
        """Create `port_count` ports (numbered from 1), all idle at `voltage_v`."""
        self.ports = {port: PortReading(voltage_v) for port in range(1, port_count + 1)}
        self._silent_addresses: set[int] = set()
        self._probe: tuple[int, float] | None = None
        self.trip_probe_served_at: float | None = None
        self.requests_served = 0

    def set_power(self, port: int, power_w: float) -> None:
        """Set the instantaneous power drawn on `port`."""
        self.ports[port].power_w = power_w

    def set_voltage(self, voltage_v: float) -> None:
        """Set the mains voltage seen by every port (they share one phase)."""
        for reading in self.ports.values():
            reading.voltage_v = voltage_v

    def set_fault(self, port: int, fault: bool) -> None:
        """Raise or clear the meter's own over-current flag for `port`."""
        self.ports[port].fault = fault

    def advance(self, dt_s: float) -> None:
        """Accumulate energy for `dt_s` seconds at the current powers."""
        for reading in self.ports.values():
            reading.energy_wh += reading.power_w * dt_s / S_PER_H

    def set_enabled(self, address: int, enabled: bool) -> None:
        """Make the meter at slave `address` answer (True) or stay silent (False)."""
        if enabled:
            self._silent_addresses.discard(address)
        else:
            self._silent_addresses.add(address)

    def is_enabled(self, address: int) -> bool:
        """Tell whether the meter at slave `address` answers requests."""
        return address not in self._silent_addresses

    def arm_trip_probe(self, port: int, threshold_w: float) -> None:
        """Start watching for the first reply that serves `port` above `threshold_w`."""
        self._probe = (port, threshold_w)
        self.trip_probe_served_at = None

    def note_power_served(self, port: int, t_monotonic: float) -> None:
        """Record that the power of `port` was just put into a reply (for the trip probe)."""
        if self._probe is None or self.trip_probe_served_at is not None:
            return
        probe_port, threshold_w = self._probe
        if port == probe_port and self.ports[port].power_w > threshold_w:
            self.trip_probe_served_at = t_monotonic


def _u16(value: float) -> int:
    # Real meters saturate a reading rather than wrap it.
    return min(U16_MAX, max(0, round(value)))


def _float_regs(value: float) -> tuple[int, int]:
    high, low = struct.unpack(">HH", struct.pack(">f", value))
    return high, low


def _fill_mc10(model: MeterModel, _address: int, regs: list[int]) -> None:
    # All circuits hang on one phase, so the meter has a single voltage channel.
    regs[MC10_REG_VOLTAGE] = _u16(model.ports[1].voltage_v * 10)
    faults = 0
    for port, reading in model.ports.items():
        regs[MC10_REG_CURRENT + port - 1] = _u16(reading.current_a * 1000)
        regs[MC10_REG_POWER + port - 1] = _u16(reading.power_w)
        energy_wh = int(reading.energy_wh) & U32_MASK
        regs[MC10_REG_ENERGY + 2 * (port - 1)] = energy_wh >> 16
        regs[MC10_REG_ENERGY + 2 * (port - 1) + 1] = energy_wh & U16_MAX
        if reading.fault:
            faults |= 1 << (port - 1)
    regs[MC10_REG_FAULTS] = faults


def _fill_sdm120(model: MeterModel, address: int, regs: list[int]) -> None:
    reading = model.ports[address]
    for reg in range(SDM120_REGISTER_COUNT):
        regs[reg] = 0
    for reg, value in (
        (SDM120_REG_VOLTAGE, reading.voltage_v),
        (SDM120_REG_CURRENT, reading.current_a),
        (SDM120_REG_POWER, reading.power_w),
        (SDM120_REG_IMPORT_KWH, reading.energy_wh / WH_PER_KWH),
    ):
        regs[reg], regs[reg + 1] = _float_regs(value)


@dataclass(frozen=True)
class _Profile:
    addresses: Callable[[MeterModel], tuple[int, ...]]
    register_count: int
    fill: Callable[[MeterModel, int, list[int]], None]
    # (port, register holding its power) pairs served by one slave address.
    power_registers: Callable[[MeterModel, int], tuple[tuple[int, int], ...]]


PROFILES = {
    "mc10": _Profile(
        addresses=lambda _model: (MC10_ADDRESS,),
        register_count=MC10_REGISTER_COUNT,
        fill=_fill_mc10,
        power_registers=lambda model, _address: tuple((port, MC10_REG_POWER + port - 1) for port in model.ports),
    ),
    "sdm120": _Profile(
        addresses=lambda model: tuple(model.ports),
        register_count=SDM120_REGISTER_COUNT,
        fill=_fill_sdm120,
        power_registers=lambda _model, address: ((address, SDM120_REG_POWER),),
    ),
}


class MeterServer:
    """A running meter server; stop it before closing the serial link under it."""

    def __init__(self, profile: str, model: MeterModel, server: ModbusSerialServer) -> None:
        """Wrap a listening pymodbus server; use `start_meter_server` to make one."""
        self.profile = profile
        self.model = model
        self._server = server

    async def stop(self) -> None:
        """Close the serial port and stop serving."""
        await self._server.shutdown()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()


def _make_action(profile: _Profile, model: MeterModel, address: int):
    async def serve(
        function_code: int,
        _start_address: int,
        address_requested: int,
        count: int,
        registers: list[int],
        _set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        # These meters only expose input registers; anything else is refused like the real ones do.
        if function_code != READ_INPUT_REGISTERS:
            return ExcCodes.ILLEGAL_FUNCTION
        if not model.is_enabled(address):
            # The reply is dropped on its way out; a silent meter must not count as served.
            return None
        profile.fill(model, address, registers)
        model.requests_served += 1
        now = time.monotonic()
        for port, reg in profile.power_registers(model, address):
            if address_requested <= reg < address_requested + count:
                model.note_power_served(port, now)
        return None

    return serve


def _build_devices(profile: _Profile, model: MeterModel) -> list[SimDevice]:
    devices = [
        SimDevice(
            id=address,
            simdata=[SimData(0, count=profile.register_count, values=0, datatype=DataType.REGISTERS)],
            action=_make_action(profile, model, address),
        )
        for address in profile.addresses(model)
    ]
    # Catch-all for addresses nobody has: pymodbus 3.16 raises KeyError (logged as an error)
    # for an unknown id instead of honouring ignore_missing_devices, so give them a
    # one-register invalid block; their replies are dropped by the packet filter.
    devices.append(SimDevice(id=0, simdata=[SimData(0, datatype=DataType.INVALID)]))
    return devices


async def start_meter_server(profile: str, serial_path: str, baudrate: int, model: MeterModel) -> MeterServer:
    """Serve the meters of `profile` ("mc10" or "sdm120") on the tty at `serial_path`."""
    spec = PROFILES[profile]
    answering = spec.addresses(model)

    def drop_silent_replies(sending: bool, packet: bytes) -> bytes:
        # An absent or silenced RS485 device says nothing at all, not even an exception.
        if sending and packet and (packet[0] not in answering or not model.is_enabled(packet[0])):
            return b""
        return packet

    server = ModbusSerialServer(
        _build_devices(spec, model),
        framer=FramerType.RTU,
        port=serial_path,
        baudrate=baudrate,
        trace_packet=drop_silent_replies,
    )
    await server.serve_forever(background=True)
    return MeterServer(profile, model, server)
