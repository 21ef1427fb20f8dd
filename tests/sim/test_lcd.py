"""HD44780 + PCF8574 emulator, fed byte sequences built from the datasheets."""

from boards.sim.world.lcd import Hd44780Lcd

RS = 0x01
RW = 0x02
EN = 0x04
BACKLIGHT = 0x08
ROW_ADDRESS = (0x00, 0x40, 0x14, 0x54)


def nibble(value, rs=0, backlight=BACKLIGHT):
    """One 4-bit transfer as a driver sends it: data with EN high, then EN low."""
    base = (value << 4) | rs | backlight
    return bytes([base | EN, base])


def byte(value, rs=0):
    return nibble(value >> 4, rs) + nibble(value & 0x0F, rs)


def command(value):
    return byte(value)


def text(string):
    return b"".join(byte(ord(ch), RS) for ch in string)


# Initialisation by instruction (HD44780 datasheet, figure 24), then 2 lines, display on,
# clear, entry mode increment.
INIT = (
    nibble(0x3)
    + nibble(0x3)
    + nibble(0x3)
    + nibble(0x2)
    + command(0x28)
    + command(0x0C)
    + command(0x01)
    + command(0x06)
)


def ready_lcd():
    lcd = Hd44780Lcd()
    lcd.feed(INIT)
    return lcd


def test_power_on_state_is_blank_and_off():
    lcd = Hd44780Lcd()
    assert lcd.lines() == [" " * 20] * 4
    assert lcd.display_on is False
    assert lcd.eight_bit is True


def test_init_sequence_sets_4_bit_two_line_display_on():
    lcd = ready_lcd()
    assert lcd.eight_bit is False
    assert lcd.two_line is True
    assert lcd.display_on is True and lcd.cursor_on is False and lcd.blink_on is False
    assert lcd.backlight is True


def test_text_lands_on_the_rows_of_a_20x4_panel():
    lcd = ready_lcd()
    lcd.feed(text("Welcome"))
    for row, message in ((1, "Port 3: 150W"), (2, "Coins: 2"), (3, "12345678901234567890")):
        lcd.feed(command(0x80 | ROW_ADDRESS[row]) + text(message))
    assert lcd.lines() == [
        "Welcome".ljust(20),
        "Port 3: 150W".ljust(20),
        "Coins: 2".ljust(20),
        "12345678901234567890",
    ]


def test_writing_past_the_end_of_row_0_continues_on_row_2():
    lcd = ready_lcd()
    lcd.feed(text("A" * 20 + "BC"))
    assert lcd.lines()[0] == "A" * 20
    assert lcd.lines()[2] == "BC".ljust(20)
    assert lcd.lines()[1] == " " * 20


def test_second_line_wraps_back_to_the_first():
    lcd = ready_lcd()
    lcd.feed(command(0x80 | 0x67) + text("XY"))
    assert lcd.lines()[0][0] == "Y"


def test_clear_and_home():
    lcd = ready_lcd()
    lcd.feed(text("old text"))
    lcd.feed(command(0x01) + text("new"))
    assert lcd.lines()[0] == "new".ljust(20)
    lcd.feed(command(0x02) + text("N"))
    assert lcd.lines()[0] == "New".ljust(20)


def test_display_control_and_backlight_are_recorded():
    lcd = ready_lcd()
    lcd.feed(command(0x08))
    assert lcd.display_on is False
    lcd.feed(command(0x0F))
    assert lcd.display_on and lcd.cursor_on and lcd.blink_on
    lcd.feed(bytes([0x00]))
    assert lcd.backlight is False
    lcd.feed(bytes([BACKLIGHT]))
    assert lcd.backlight is True


def test_non_ascii_codes_show_as_question_marks():
    lcd = ready_lcd()
    lcd.feed(byte(0xDF, RS) + byte(0x7F, RS) + byte(0x00, RS) + text("~"))
    assert lcd.lines()[0].startswith("???~")


def test_cgram_writes_are_accepted_and_not_drawn():
    lcd = ready_lcd()
    lcd.feed(command(0x40) + b"".join(byte(0x1F, RS) for _ in range(8)))
    lcd.feed(command(0x80) + text("ok"))
    assert lcd.cgram_writes == 8
    assert lcd.lines()[0] == "ok".ljust(20)


def test_only_the_falling_edge_of_en_latches():
    lcd = ready_lcd()
    before = lcd.lines()
    data = (ord("Z") >> 4) << 4 | RS | BACKLIGHT
    # EN held low or rising does nothing.
    lcd.feed(bytes([data, data, data | EN]))
    assert lcd.lines() == before
    lcd.feed(bytes([data]) + nibble(ord("Z") & 0x0F, RS))
    assert lcd.lines()[0][0] == "Z"


def test_read_cycles_are_ignored():
    lcd = ready_lcd()
    busy_read = bytes([0xF0 | RW | BACKLIGHT | EN, 0xF0 | RW | BACKLIGHT])
    lcd.feed(busy_read * 2 + text("R"))
    assert lcd.lines()[0][0] == "R"


def test_reinit_recovers_a_panel_left_mid_byte():
    lcd = ready_lcd()
    lcd.feed(text("stale"))
    # The firmware restarted after sending half a byte.
    lcd.feed(nibble(0x4, RS))
    lcd.feed(INIT + text("fresh"))
    assert lcd.lines()[0] == "fresh".ljust(20)
    assert lcd.eight_bit is False and lcd.two_line is True


def test_entry_mode_decrement_and_cursor_shift():
    lcd = ready_lcd()
    lcd.feed(command(0x80 | 5) + command(0x04) + text("abc"))
    assert lcd.lines()[0][3:6] == "cba"
    lcd.feed(command(0x06) + command(0x80) + command(0x14) + text("x"))
    assert lcd.lines()[0][:2] == " x"
