"""The ESP32-S3's keypad driver (boards/esp32s3/keypad_pcf8574.py) against a PCF8574 model with keys.

Plain test functions, so the same module runs under pytest and on the
MicroPython VM (tests/sim/test_keypad_pcf8574_on_micropython.py).
"""

import errno

from boards.esp32s3.keypad_pcf8574 import PcfKeypad
from tests.sim.pcf8574 import Pcf8574Keypad

# The legend printed on the keys, row by row.
LEGEND = ("123A", "456B", "789C", "*0#D")
STABLE_SCANS = 2
SCANS_TO_SETTLE = STABLE_SCANS + 1  # the first sighting, then STABLE_SCANS that agree


def wired(address=0x20):
    """A keypad driver and the expander it talks to."""
    chip = Pcf8574Keypad()
    return PcfKeypad(chip, address, STABLE_SCANS), chip


def scans(keypad, count):
    """What ``count`` scans report, None included."""
    return [keypad.scan() for _ in range(count)]


def test_each_of_the_sixteen_keys_reads_as_its_legend():
    keypad, chip = wired()
    for row in range(4):
        for column in range(4):
            chip.press(row, column)
            assert scans(keypad, SCANS_TO_SETTLE)[-1] == LEGEND[row][column], (row, column)
            chip.release(row, column)
            assert scans(keypad, SCANS_TO_SETTLE) == [None] * SCANS_TO_SETTLE


def test_a_key_is_reported_once_after_stable_scans_and_not_repeated_while_held():
    keypad, chip = wired()
    chip.press(1, 1)
    assert scans(keypad, SCANS_TO_SETTLE) == [None] * STABLE_SCANS + ["5"]
    assert scans(keypad, 20) == [None] * 20


def test_a_key_released_and_pressed_again_is_reported_again():
    keypad, chip = wired()
    chip.press(3, 2)
    assert scans(keypad, SCANS_TO_SETTLE)[-1] == "#"
    chip.release(3, 2)
    assert scans(keypad, SCANS_TO_SETTLE) == [None] * SCANS_TO_SETTLE
    chip.press(3, 2)
    assert scans(keypad, SCANS_TO_SETTLE) == [None] * STABLE_SCANS + ["#"]


def test_a_bounce_shorter_than_the_stable_scans_is_not_a_key():
    keypad, chip = wired()
    for _ in range(5):
        chip.press(0, 3)
        assert keypad.scan() is None
        chip.release(0, 3)
        assert keypad.scan() is None


def test_two_keys_down_report_the_first_in_scan_order_then_the_one_still_held():
    keypad, chip = wired()
    chip.press(2, 0)
    chip.press(0, 1)
    assert scans(keypad, SCANS_TO_SETTLE)[-1] == "2"
    assert scans(keypad, 5) == [None] * 5
    chip.release(0, 1)
    assert scans(keypad, SCANS_TO_SETTLE)[-1] == "7"


def test_a_column_reads_low_only_while_its_keys_row_is_driven():
    chip = Pcf8574Keypad()
    chip.press(2, 1)
    chip.writeto(0x20, bytes([0xFF ^ 1 << 0]))
    assert chip.levels() == 0xFF ^ 1 << 0
    chip.writeto(0x20, bytes([0xFF ^ 1 << 2]))
    assert chip.levels() == 0xFF ^ 1 << 2 ^ 1 << 5


def test_with_no_key_down_a_scan_is_one_write_and_one_read():
    keypad, chip = wired()
    keypad.scan()
    assert chip.transfers == 2


def test_a_bus_that_fails_raises_oserror_and_the_keypad_works_again_after():
    keypad, chip = wired()
    chip.press(1, 0)
    assert scans(keypad, SCANS_TO_SETTLE)[-1] == "4"
    chip.error = errno.ETIMEDOUT
    for _ in range(3):
        try:
            keypad.scan()
            raise AssertionError("no OSError")
        except OSError as error:
            assert error.args[0] == errno.ETIMEDOUT
    chip.error = None
    # The key held through the outage is not reported twice; a new one is.
    assert scans(keypad, SCANS_TO_SETTLE) == [None] * SCANS_TO_SETTLE
    chip.release(1, 0)
    chip.press(1, 3)
    assert scans(keypad, SCANS_TO_SETTLE) == [None] * STABLE_SCANS + ["B"]


def test_a_missing_expander_raises_oserror():
    keypad, chip = wired(address=0x21)
    chip.press(0, 0)
    try:
        keypad.scan()
        raise AssertionError("no OSError")
    except OSError as error:
        assert error.args[0] == errno.ENODEV
