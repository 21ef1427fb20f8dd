"""The shell's asyncio tasks: meter polling, time, inputs and the user interface.

Each task is a loop with bounded waits; every hardware call either returns at
once or has its own timeout (the Modbus master's), so no task can hang on a
device.
"""

import asyncio
import time

from firmware import screen
from firmware.shell.clock import now_ms, wall_s
from firmware.shell.log import log

TICK_MS = 100
INPUT_SCAN_MS = 20
UI_REFRESH_MS = 250
VOICE_GAP_MS = 1200
VOICE_QUEUE_MAX = 4
METER_LOG_MS = 5000


async def meter_loop(meter, controller, scan_ms):
    """Scan the meter and hand each complete scan to the control path at once."""
    master = meter.master
    failures_logged = 0
    last_log = time.ticks_ms()
    while True:
        started = time.ticks_ms()
        try:
            done = await meter.scan()
        except OSError as error:
            log("meter_io", error=repr(error))
            done = 0
        if done:
            controller.readings(now_ms(), meter.readings)
        failures = master.timeouts + master.crc_errors + master.short_frames + master.garbage + master.exceptions
        if failures != failures_logged and time.ticks_diff(started, last_log) >= METER_LOG_MS:
            failures_logged = failures
            last_log = started
            log("meter_errors", **master.counters())
        rest = scan_ms - time.ticks_diff(time.ticks_ms(), started)
        await asyncio.sleep_ms(rest if rest > 0 else 1)


async def tick_loop(controller):
    """Hand the core the time, so holds, credit and staleness are judged without a reading."""
    while True:
        controller.tick(now_ms(), wall_s())
        await asyncio.sleep_ms(TICK_MS)


async def input_loop(keypad, coin, controller):
    """Scan the keypad and collect finished coin pulse trains."""
    while True:
        key = keypad.scan()
        if key is not None:
            controller.key(now_ms(), key)
        coins = coin.take_coins()
        if coins:
            controller.coins(now_ms(), coins)
        await asyncio.sleep_ms(INPUT_SCAN_MS)


async def ui_loop(lcd, voice, controller, notice_ms):
    """Refresh the display and play queued prompts, one at a time."""
    queue = controller.voice_queue
    last_voice = time.ticks_add(time.ticks_ms(), -VOICE_GAP_MS)
    while True:
        now = now_ms()
        rows = screen.lines(controller.pile, controller.panel, now, notice_ms, controller.failed)
        for row in range(4):
            lcd.show(row, rows[row])
        while len(queue) > VOICE_QUEUE_MAX:
            queue.pop(0)
        if queue and time.ticks_diff(time.ticks_ms(), last_voice) >= VOICE_GAP_MS:
            voice.play(queue.pop(0))
            last_voice = time.ticks_ms()
        await asyncio.sleep_ms(UI_REFRESH_MS)
