"""ESP32-S3 pile controller board (ESP32-S3-WROOM-1-N8, no PSRAM; REPL on the native USB).

Pin and UART map (see boards/esp32s3/README.md for the wiring notes):

| function                     | pins                                    |
|------------------------------|-----------------------------------------|
| relays, ports 1..10          | GPIO 4 5 6 7 15 16 17 18 8 9 (ULN2803)  |
| RS485 meter, UART1           | TX 38, RX 39, DE/RE 40 (MAX3485)        |
| voice JQ8900, RMT (TX only)  | TX 43                                   |
| main meter DL/T 645, UART0   | TX 45, RX 44, DE/RE 46 (MAX3485)        |
| 4G modem, UART2 (issue 4)    | TX 35, RX 36, PWRKEY 37                 |
| I2C0, 100 kHz                | SDA 2, SCL 42                           |
| LCD2004 + PCF8574, I2C0      | address 0x27                            |
| keypad 4x4 + PCF8574, I2C0   | address 0x20; rows P0-P3, columns P4-P7 |
| IC card reader MFRC522, SPI2 | NSS 10, MOSI 11, SCK 12, MISO 13        |
| coin acceptor pulse          | GPIO 1 (pull-up, falling edge)          |
| smoke input (NC loop, pull-up) | GPIO 41                               |
| cabinet NTC divider          | GPIO 3 (ADC1 channel 2, 11 dB)          |
| buzzer (through an NPN)      | GPIO 48                                 |
"""

import errno

import esp32
import vfs
from machine import ADC, I2C, SPI, UART, WDT, Pin
from machine import reset as machine_reset

from boards import pinmap
from boards.esp32s3.keypad_pcf8574 import PcfKeypad
from boards.esp32s3.rmt_tx import RmtSerialTx
from drivers.coin import CoinAcceptor
from drivers.lcd_hd44780 import Lcd
from drivers.meter import MeterReader
from drivers.meter_profiles import PROFILES
from drivers.mfrc522 import Mfrc522
from drivers.modbus_rtu import ModbusMaster
from drivers.modem_line import ModemLine
from drivers.ntc import Ntc
from drivers.relays import RelayBank
from drivers.voice_jq8900 import Voice
from firmware.readings import Readings

METER_UART = 1
METER_TX = 38
METER_RX = 39
VOICE_TX = 43
MAIN_METER_UART = 0
MAIN_METER_TX = 45
MAIN_METER_RX = 44
EVEN_PARITY = 0
I2C_SDA_GPIO = 2
I2C_SCL_GPIO = 42
I2C_HZ = 100000
KEYPAD_I2C_ADDRESS = 0x20  # PCF8574 with A2..A0 low (the LCD backpack's is 0x27)
# MicroPython's SPI(1) is the S3's SPI2 (FSPI), whose own IOMUX pins are 10-13: no GPIO matrix delay.
CARD_SPI_ID = 1
CARD_NSS_GPIO = 10
CARD_MOSI_GPIO = 11
CARD_SCK_GPIO = 12
CARD_MISO_GPIO = 13
# The MFRC522 takes up to 10 MHz; 4 MHz leaves margin for the cable to the reader module, and its register
# accesses are two bytes each, so a faster clock would save microseconds next to the card's milliseconds.
CARD_SPI_HZ = 4000000
UART_RX_BUFFER = 512
MODEM_UART = 2
MODEM_BAUD = 115200
MODEM_TX = 35
MODEM_RX = 36
MODEM_RX_BUFFER = 1024
DATA_DIR = "/data"
DATA_PARTITION = "pile"


class Esp32S3Board:
    """Builds every driver on the board's pins; relays are off from the first instruction."""

    def __init__(self, cfg):
        count = cfg["PORT_COUNT"]
        self.relays = RelayBank([Pin(gpio, Pin.OUT, value=0) for gpio in pinmap.RELAY_GPIOS[:count]])
        meter_uart = UART(
            METER_UART,
            baudrate=cfg["METER_BAUD"],
            tx=METER_TX,
            rx=METER_RX,
            timeout=0,
            rxbuf=UART_RX_BUFFER,
        )
        master = ModbusMaster(
            meter_uart,
            cfg["METER_BAUD"],
            de_pin=Pin(pinmap.METER_DE_GPIO, Pin.OUT, value=0),
            timeout_ms=cfg["METER_TIMEOUT_MS"],
            retries=cfg["METER_RETRIES"],
        )
        self.readings = Readings(count)
        self.meter = MeterReader(master, PROFILES[cfg["METER_PROFILE"]], self.readings, cfg["METER_ADDRESS"])
        self.coin = CoinAcceptor(
            Pin(pinmap.COIN_GPIO, Pin.IN, Pin.PULL_UP),
            cfg["COIN_PULSES"],
            cfg["COIN_DEBOUNCE_MS"],
            cfg["COIN_GAP_MS"],
        )
        # One bus, one object: the keypad's expander and the LCD's backpack share I2C0.
        i2c = I2C(0, sda=Pin(I2C_SDA_GPIO), scl=Pin(I2C_SCL_GPIO), freq=I2C_HZ)
        self.keypad = PcfKeypad(i2c, KEYPAD_I2C_ADDRESS)
        self.lcd = Lcd(i2c, pinmap.LCD_I2C_ADDRESS)
        self.voice = Voice(RmtSerialTx(Pin(VOICE_TX), 9600))
        self.smoke = Pin(pinmap.SMOKE_GPIO, Pin.IN, Pin.PULL_UP)
        # 11 dB attenuation: the ADC reads up to about 3.1 V, the divider's voltage down to about -30 °C
        # (colder reads as an open sensor, which stops charging).
        self.thermometer = Ntc(ADC(Pin(pinmap.NTC_ADC_GPIO), atten=ADC.ATTN_11DB))
        self.buzzer = Pin(pinmap.BUZZER_GPIO, Pin.OUT, value=0)
        modem_uart = UART(MODEM_UART, baudrate=MODEM_BAUD, tx=MODEM_TX, rx=MODEM_RX, timeout=0, rxbuf=MODEM_RX_BUFFER)
        self.modem_line = ModemLine(modem_uart, Pin(pinmap.MODEM_PWRKEY_GPIO, Pin.OUT, value=0))
        # SPI mode 0, MSB first, as the MFRC522 wants: machine.SPI's defaults.
        card_spi = SPI(
            CARD_SPI_ID,
            baudrate=CARD_SPI_HZ,
            sck=Pin(CARD_SCK_GPIO),
            mosi=Pin(CARD_MOSI_GPIO),
            miso=Pin(CARD_MISO_GPIO),
        )
        self.card_reader = Mfrc522(card_spi, Pin(CARD_NSS_GPIO, Pin.OUT, value=1))

        self.flash = None

    def main_meter(self, cfg):
        """The DL/T 645 main meter's reader on UART0 at MAIN_METER_BAUD 8E1 (built by its task after boot)."""
        from drivers.main_meter import MainMeterReader

        baudrate = cfg["MAIN_METER_BAUD"]
        uart = UART(
            MAIN_METER_UART,
            baudrate=baudrate,
            bits=8,
            parity=EVEN_PARITY,
            stop=1,
            tx=MAIN_METER_TX,
            rx=MAIN_METER_RX,
            timeout=0,
            rxbuf=UART_RX_BUFFER,
        )
        return MainMeterReader(uart, baudrate, Pin(pinmap.MAIN_METER_DE_GPIO, Pin.OUT, value=0))

    async def start(self):
        """Bring up the display."""
        await self.lcd.start()

    def mount_flash(self):
        """Mount the 2 MB ``pile`` data partition (littlefs) at /data; OSError if it will not mount.

        Records live on their own partition, not the root filesystem, because
        MicroPython's boot code reformats a root filesystem that fails to mount.
        """
        partitions = esp32.Partition.find(esp32.Partition.TYPE_DATA, label=DATA_PARTITION)
        if not partitions:
            raise OSError(errno.ENODEV)
        vfs.mount(vfs.VfsLfs2(partitions[0]), DATA_DIR)  # type: ignore[abstract]  # stub declares it abstract
        return DATA_DIR

    async def network_up(self):
        """The cloud link's network: the PPP call the modem task keeps up; OSError while it is down."""
        if not self.modem_line.isconnected():
            raise OSError(errno.EHOSTUNREACH)

    def watchdog(self, timeout_ms):
        """The hardware watchdog, started: it resets the board unless fed within ``timeout_ms``."""
        return WDT(timeout=timeout_ms)

    def reset(self):
        """Restart the board (a remote reboot), relays off first."""
        self.relays.all_off()
        machine_reset()
