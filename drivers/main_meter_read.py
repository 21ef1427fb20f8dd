"""One read of the main meter (``MainMeterReader`` in drivers/main_meter.py): the protocol's code,
loaded for the read and dropped after it.

Requests go to the meter's address, the wildcard (AA x6, which only the one
meter on the line answers) until a reply brings its own; a read that hears
nothing goes back to the wildcard, so a replaced meter is found by itself.
"""

import asyncio
import time

from drivers import dlt645
from drivers.rs485 import wait_quiet
from firmware.compat import const

# Energy, phase-A voltage, phase-A current, total active power.
QUANTITIES = (dlt645.FORWARD_ACTIVE_ENERGY, dlt645.VOLTAGE_A, dlt645.CURRENT_A, dlt645.ACTIVE_POWER)
_RETRIES = const(2)
# The standard gives a meter up to 500 ms to start its reply; the reply itself takes ~130 ms at 2400.
_REPLY_TIMEOUT_MS = const(1000)
# A reply that stops for this many character times is over (complete or not).
_GAP_CHARS = const(20)
_POLL_MS = const(5)
_TX_GUARD_MS = const(20)


async def read(meter):
    """Read every quantity; True when all were read, and ``meter.reading`` then holds them (``fresh``
    + 1). What the line does never raises: a failure ends the read early and is counted by kind."""
    if meter.requests_for != meter.address:
        for index in range(4):
            dlt645.fill_request(meter.requests[index], meter.address, QUANTITIES[index])
        meter.requests_for[:] = meter.address
    meter.silent = True
    values = meter.values
    for index in range(4):
        value = await _ask(meter, index)
        if value is None:
            break
        values[index] = value
    if meter.silent:
        meter.address[:] = dlt645.WILDCARD
    if value is None:
        return False
    reading = meter.reading
    reading.energy_wh = values[0] * 10  # 0.01 kWh
    reading.voltage_dv = values[1]
    reading.current_ma = values[2]
    power = values[3]  # 0.1 W, to W toward zero
    reading.power_w = power // 10 if power >= 0 else -(-power // 10)
    reading.fresh += 1
    return True


async def _ask(meter, index):
    """The value of quantity ``index``, or None after the retries or a refusal."""
    rx = meter.rx
    for _ in range(_RETRIES + 1):
        await _send(meter, meter.requests[index])
        got = await _receive(meter)
        kind = "timeout"
        if got:
            try:
                at = dlt645.check_reply(rx, got)
                value = dlt645.read_value(rx, QUANTITIES[index], at + 10, rx[at + 9])
            except dlt645.MeterRefused:
                kind = "refused"
                meter.silent = False
            except dlt645.ChecksumError:
                kind = "checksum"
            except ValueError:
                kind = "garbage"
            else:
                meter.silent = False
                if meter.address == dlt645.WILDCARD:
                    meter.address[:] = rx[at + 1 : at + 7]
                return value
        meter.errors[kind] += 1
        meter.last_error = kind
        if kind == "refused":
            return None  # asking again gets the same answer
    return None


async def _send(meter, request):
    """Wait for a quiet line (a late reply may still be coming), then send ``request`` with the line
    driver on until it is out."""
    uart = meter.uart
    await wait_quiet(uart, meter.byte, _gap_ms(meter), _REPLY_TIMEOUT_MS, time.ticks_ms())
    meter.de_pin.value(1)
    uart.write(request)
    limit_ms = len(request) * meter.char_us // 1000 + _TX_GUARD_MS
    started = time.ticks_ms()
    while not uart.txdone() and time.ticks_diff(time.ticks_ms(), started) <= limit_ms:
        await asyncio.sleep_ms(1)
    meter.de_pin.value(0)


async def _receive(meter):
    """Collect a reply until it is whole, stops for a gap, or the timeout; its length."""
    uart = meter.uart
    rx = meter.rx
    byte = meter.byte
    gap_ms = _gap_ms(meter)
    got = 0
    started = last = time.ticks_ms()
    while True:
        while uart.readinto(byte):
            last = time.ticks_ms()
            if got < len(rx):
                rx[got] = byte[0]
                got += 1
        # Whole by its declared length, after any wake-up bytes.
        at = 0
        while at < got and rx[at] == dlt645.WAKE:
            at += 1
        if got >= at + 10 and got >= at + 12 + rx[at + 9]:
            return got
        now = time.ticks_ms()
        if got:
            if time.ticks_diff(now, last) > gap_ms:
                return got
        elif time.ticks_diff(now, started) > _REPLY_TIMEOUT_MS:
            return 0
        await asyncio.sleep_ms(_POLL_MS)


def _gap_ms(meter):
    return _GAP_CHARS * meter.char_us // 1000 + 1
