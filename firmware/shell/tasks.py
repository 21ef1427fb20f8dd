"""The shell's asyncio tasks: meter polling, time, inputs and the user interface.

Each task is a loop with bounded waits; every hardware call either returns at
once or has its own timeout (the Modbus master's), so no task can hang on a
device.
"""

import asyncio
import gc
import time

from firmware import screen
from firmware.compat import const
from firmware.port import STATE_NAMES
from firmware.shell.clock import now_ms, wall_s
from firmware.shell.log import alarm, log
from firmware.shell.supervisor import INPUTS, METER, TICK, UI

_TICK_MS = const(100)
_INPUT_SCAN_MS = const(20)
_UI_REFRESH_MS = const(250)
_VOICE_GAP_MS = const(1200)
_VOICE_QUEUE_MAX = const(4)
_HEALTH_LOG_MS = const(5000)
_SMOKE = const("smoke")


async def status_loop(pile, period_ms):
    """Log every port's state, power, time left and last stop reason (for the console and the sim)."""
    while True:
        await asyncio.sleep_ms(period_ms)
        log("ports", ports=[port_status(pile, port) for port in pile.ports])


def port_status(pile, port):
    """[state, W, seconds left or -1, last stop reason] of one port."""
    return [STATE_NAMES[port.state], port.power_w, pile.seconds_left(port), port.reason or ""]


class Health:
    """Figures the tasks keep for the periodic health line: scan times and heap peak."""

    def __init__(self):
        self.scans = 0
        self.window_scans = 0
        self.window_scan_ms = 0
        self.failed_scans = 0
        self.last_scan_ms = 0
        self.max_scan_ms = 0
        self.heap_peak = 0
        self.flash = None

    def sample_heap(self):
        """Remember the highest heap use seen (garbage included, as the allocator sees it)."""
        used = gc.mem_alloc()
        if used > self.heap_peak:
            self.heap_peak = used


async def meter_loop(meter, controller, scan_ms, health, supervisor):
    """Scan the meter; every reading goes to the control path the moment it is decoded."""
    readings = meter.readings

    def deliver():
        supervisor.beat(METER)
        controller.readings(now_ms(), readings)

    while True:
        started = time.ticks_ms()
        try:
            done = await meter.scan(deliver)
        except OSError as error:
            log("meter_io", error=repr(error))
            done = 0
        if not done:
            health.failed_scans += 1
        took = time.ticks_diff(time.ticks_ms(), started)
        health.scans += 1
        health.window_scans += 1
        health.window_scan_ms += took
        health.last_scan_ms = took
        if took > health.max_scan_ms:
            health.max_scan_ms = took
        health.sample_heap()
        rest = scan_ms - took
        await asyncio.sleep_ms(rest if rest > 0 else 1)


async def health_loop(meter, health):
    """Log scan times, meter error counters and heap use every few seconds.

    The heap is collected first, so ``heap_live`` is what the pile really holds;
    ``heap_peak`` is the most the allocator had handed out (garbage included).
    """
    while True:
        await asyncio.sleep_ms(_HEALTH_LOG_MS)
        gc.collect()
        log(
            "health",
            scans=health.scans,
            window_scans=health.window_scans,
            window_scan_ms=health.window_scan_ms,
            failed_scans=health.failed_scans,
            last_scan_ms=health.last_scan_ms,
            max_scan_ms=health.max_scan_ms,
            heap_peak=health.heap_peak,
            heap_live=gc.mem_alloc(),
            heap_free=gc.mem_free(),
            flash_programs=health.flash.programs if health.flash else -1,
            flash_erases=health.flash.erases if health.flash else -1,
            **meter.master.counters(),
        )
        health.max_scan_ms = 0
        health.window_scans = 0
        health.window_scan_ms = 0


async def tick_loop(controller, supervisor, thermometer):
    """Hand the core the time, so holds, credit and staleness are judged without a reading, and the
    cabinet's temperature (``thermometer``: drivers/ntc.py; None on a board without one)."""
    while True:
        supervisor.beat(TICK)
        controller.tick(now_ms(), wall_s(), thermometer.read_dc() if thermometer is not None else None)
        await asyncio.sleep_ms(_TICK_MS)


async def input_loop(keypad, coin, smoke, controller, supervisor):
    """Watch the smoke detector, scan the keypad and collect finished coin pulse trains.

    ``smoke`` is the detector's input (1: smoke, or its loop broken; None on a
    board without one). Its rising edge has already opened every relay (the
    interrupt, ``Controller.smoke_edge``); here the core latches it on the next
    scan, and learns when the detector is quiet again. A keypad on a bus (the
    ESP32-S3's I2C expander) that stops answering is reported once and reads as
    no key until it answers again; coins still count.
    """
    keypad_ok = True
    smoke_level = 0
    while True:
        supervisor.beat(INPUTS)
        if smoke is not None and (controller.relays.held_off or smoke.value() != smoke_level):
            relays = controller.relays
            now = now_ms()
            if relays.held_off:
                # An edge the interrupt saw is smoke, even if the input has fallen again since: once the
                # core has latched it, the core keeps the relays open.
                controller.apply(now, _SMOKE, controller.pile.on_smoke, now, True)
                relays.release()
            smoke_level = smoke.value()
            controller.apply(now, _SMOKE, controller.pile.on_smoke, now, smoke_level == 1)
        try:
            key = keypad.scan()
            keypad_ok = True
        except OSError as error:
            if keypad_ok:
                alarm("ui_fault", detail=repr(error))
            keypad_ok = False
            key = None
        if key is not None:
            controller.key(now_ms(), key)
        coins = coin.take_coins()
        if coins:
            controller.coins(now_ms(), coins)
        await asyncio.sleep_ms(_INPUT_SCAN_MS)


async def ui_loop(lcd, voice, buzzer, controller, notice_ms, health, supervisor):
    """Refresh the display, play queued prompts (and amounts) one at a time, and sound the buzzer
    (None on a board without one) while smoke is latched."""
    queue = controller.voice_queue
    last_voice = time.ticks_add(time.ticks_ms(), -_VOICE_GAP_MS)
    ui_ok = True
    while True:
        supervisor.beat(UI)
        now = now_ms()
        if buzzer is not None:
            buzzer.value(1 if controller.pile.smoke else 0)
        rows = screen.lines(controller.pile, controller.panel, now, notice_ms, controller.failed)
        while len(queue) > _VOICE_QUEUE_MAX:
            queue.pop(0)
        since_voice = time.ticks_diff(time.ticks_ms(), last_voice)
        # The display and voice are not safety parts: a failing one is reported, charging goes on.
        try:
            for row in range(4):
                lcd.show(row, rows[row])
            if queue and (since_voice >= _VOICE_GAP_MS or since_voice < 0):
                item = queue.pop(0)
                # A prompt's track, or an amount said as clips (firmware/spoken.py).
                if isinstance(item, int):
                    voice.play(item)
                else:
                    voice.play_clips(item)
                last_voice = time.ticks_ms()
            ui_ok = True
        except OSError as error:
            if ui_ok:
                alarm("ui_fault", detail=repr(error))
            ui_ok = False
        health.sample_heap()
        await asyncio.sleep_ms(_UI_REFRESH_MS)
