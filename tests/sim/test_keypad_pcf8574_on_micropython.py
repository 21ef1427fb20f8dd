"""The PCF8574 keypad on the MicroPython VM: its tests again, a scan with the heap locked, and the
shell's input task riding out an expander that stops answering."""

import json
import sys

import pytest

from boards.sim.world.vm import micropython_executable, run_source

# Scans with the key held and none down, under micropython.heap_lock(): any allocation is a MemoryError.
_HEAP_LOCKED_SCANS = """
import micropython
from boards.esp32s3.keypad_pcf8574 import PcfKeypad
from tests.sim.pcf8574 import Pcf8574Keypad
def scan_locked(keypad, count):
    micropython.heap_lock()
    try:
        for _ in range(count):
            keypad.scan()
    finally:
        micropython.heap_unlock()
chip = Pcf8574Keypad()
keypad = PcfKeypad(chip)
chip.press(2, 2)
print([keypad.scan() for _ in range(3)])
scan_locked(keypad, 10)
chip.release(2, 2)
scan_locked(keypad, 10)
print("scans allocated nothing")
"""

# tasks.input_loop for 200 ms with the expander failing, then 200 ms with it back and "1" held.
_INPUT_LOOP = """
import asyncio, errno, json
from boards.esp32s3.keypad_pcf8574 import PcfKeypad
from firmware.shell import tasks
from tests.sim.pcf8574 import Pcf8574Keypad
class Coin:
    def take_coins(self):
        return 1
class Controller:
    def __init__(self):
        self.keys = []
        self.coin_count = 0
    def key(self, now, key):
        self.keys.append(key)
    def coins(self, now, coins):
        self.coin_count += coins
class Supervisor:
    def __init__(self):
        self.beats = 0
    def beat(self, task):
        self.beats += 1
chip = Pcf8574Keypad()
controller = Controller()
supervisor = Supervisor()
async def main():
    chip.error = errno.ETIMEDOUT
    task = asyncio.create_task(tasks.input_loop(PcfKeypad(chip), Coin(), None, controller, supervisor))
    await asyncio.sleep_ms(200)
    coins_in_outage = controller.coin_count
    chip.press(0, 0)
    chip.error = None
    await asyncio.sleep_ms(200)
    task.cancel()
    print("RESULT " + json.dumps([coins_in_outage, controller.keys, supervisor.beats]))
asyncio.run(main())
"""


@pytest.fixture(autouse=True)
def _vm_available():
    micropython_executable()


def test_the_keypad_tests_pass_on_micropython():
    result = run_source(["tests/mp_run.py", "tests.sim.test_keypad_pcf8574"], timeout_s=60)
    sys.stdout.write(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout and " 0 passed" not in result.stdout


def test_a_scan_allocates_nothing():
    result = run_source(["-c", _HEAP_LOCKED_SCANS], timeout_s=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == ["[None, None, '9']", "scans allocated nothing"]


def test_the_input_task_reports_a_failing_keypad_once_and_keeps_counting_coins():
    result = run_source(["-c", _INPUT_LOOP], timeout_s=30)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    alarms = [json.loads(line) for line in lines if line.startswith("{") and '"alarm"' in line]
    assert [(record["alarm"], record["detail"]) for record in alarms] == [("ui_fault", "OSError(110,)")]
    coins_in_outage, keys, beats = json.loads(lines[-1].removeprefix("RESULT "))
    assert coins_in_outage >= 3
    assert keys == ["1"]
    assert beats >= 10
