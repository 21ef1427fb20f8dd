"""The pile's wiring harness: which GPIO does what.

The ESP32-S3 board uses it on real pins; the virtual pile uses the same numbers
on its pin bus, so a bench rig and the sim rig read the same map.
"""

RELAY_GPIOS = (4, 5, 6, 7, 15, 16, 17, 18, 8, 9)
METER_DE_GPIO = 40
COIN_GPIO = 1
KEYPAD_ROW_GPIOS = (10, 11, 12, 13)
KEYPAD_COL_GPIOS = (14, 21, 47, 48)
LCD_I2C_ADDRESS = 0x27
MODEM_PWRKEY_GPIO = 37
MAIN_METER_DE_GPIO = 46
CARD_CS_GPIO = 0  # the MFRC522 NSS in the virtual pile; the ESP32-S3 board has no reader yet (its README)
