"""The main meter task: reads the pile's DL/T 645 main meter every MAIN_METER_S and logs each reading.

The main meter only reports: the supervisor does not watch this task (a dead
main meter must never reset a charging pile) and nothing here touches the
control path. The protocol's code is loaded for each read and forgotten after
it, so between reads it leaves the heap to the pile; a read that finds the
heap short (MemoryError) fails like any other and the next one tries again.
A failure streak is logged when it starts and then at most once an hour, with
the driver's counters; a meter that goes silent raises one
``main_meter_lost`` alarm, and one ``main_meter_back`` when it answers again.
"""

import asyncio
import gc
import time

from firmware.compat import const
from firmware.shell.log import alarm, log
from firmware.shell.settings import forget

_ERROR_LOG_MS = const(3600000)
_READ_MODULES = const(("drivers.main_meter_read", "drivers.dlt645"))


def start(board, cfg):
    """Build the reader of the board's main meter (``board.main_meter(cfg)``), keep its latest reading as
    ``board.main_meter_reading`` and start the task; the first read comes one period after boot, away
    from the boot's and the first TLS handshake's heap peaks."""
    meter = board.main_meter(cfg)
    board.main_meter_reading = meter.reading
    asyncio.create_task(_loop(meter, cfg["MAIN_METER_S"] * 1000))


async def _read(meter):
    gc.collect()  # the protocol's code goes into a heap cleared of garbage
    try:
        from drivers.main_meter_read import read

        return await read(meter)
    except Exception as error:  # noqa: BLE001 - a reporting part: a fault (or a short heap) is logged, never fatal
        meter.last_error = repr(error)
        return False
    finally:
        forget(_READ_MODULES)


async def _loop(meter, period_ms):
    reading = meter.reading
    lost = False
    error_logged_ms = None  # when the current failure streak was last logged
    while True:
        await asyncio.sleep_ms(period_ms)
        done = await _read(meter)
        now = time.ticks_ms()
        if done:
            error_logged_ms = None
            log(
                "main_meter",
                address=meter.address_text(),
                energy_wh=reading.energy_wh,
                voltage_dv=reading.voltage_dv,
                current_ma=reading.current_ma,
                power_w=reading.power_w,
            )
        elif error_logged_ms is None or not 0 <= time.ticks_diff(now, error_logged_ms) < _ERROR_LOG_MS:
            error_logged_ms = now
            log("main_meter_error", error=meter.last_error, **meter.errors)
        if meter.silent != lost:
            lost = meter.silent
            alarm("main_meter_lost" if lost else "main_meter_back", detail=meter.last_error if lost else "")
