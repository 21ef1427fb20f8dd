"""The virtual pile's wiring: which GPIO does what (read by the firmware and the host world)."""

RELAY_GPIOS = (4, 5, 6, 7, 15, 16, 17, 18, 8, 3)
METER_DE_GPIO = 21
COIN_GPIO = 1
KEYPAD_ROW_GPIOS = (9, 10, 11, 12)
KEYPAD_COL_GPIOS = (13, 14, 47, 48)
LCD_I2C_ADDRESS = 0x27
