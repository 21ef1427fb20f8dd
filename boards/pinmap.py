"""The pile's wiring harness: which GPIO does what.

The ESP32-S3 board uses it on real pins; the virtual pile uses the same numbers
on its pin bus, so a bench rig and the sim rig read the same map. Two parts are
wired otherwise on the ESP32-S3, their pins in its board module: the keypad,
behind a PCF8574 on the display's I2C bus, and the card reader, on SPI2's own
pins 10-13, which the virtual pile's keypad rows use.
"""

RELAY_GPIOS = (4, 5, 6, 7, 15, 16, 17, 18, 8, 9)
METER_DE_GPIO = 40
COIN_GPIO = 1
# The virtual pile's keypad matrix; the ESP32-S3's keypad is on I2C (boards/esp32s3/board.py).
KEYPAD_ROW_GPIOS = (10, 11, 12, 13)
KEYPAD_COL_GPIOS = (14, 21, 47, 20)
LCD_I2C_ADDRESS = 0x27
MODEM_PWRKEY_GPIO = 37
MAIN_METER_DE_GPIO = 46
# Safety inputs and the buzzer. The smoke detector's normally closed contact pulls its input to ground:
# smoke, or a broken wire, reads 1 through the pull-up. The NTC's divider is on an ADC1 channel.
SMOKE_GPIO = 41
NTC_ADC_GPIO = 3
BUZZER_GPIO = 48
CARD_CS_GPIO = 0  # the virtual pile's MFRC522 NSS; the ESP32-S3's is GPIO 10 (CARD_NSS_GPIO in its board module)
