"""The virtual pile's board: the same drivers as a real board, wired to simulated hardware."""

import asyncio
import errno
import os

import vfs

from boards import pinmap
from boards.sim.simhw import ADC, I2C, SPI, FileFlash, HostPpp, Pin, PinBus, PtyUart, Watchdog
from drivers.coin import CoinAcceptor
from drivers.keypad import Keypad
from drivers.lcd_hd44780 import Lcd
from drivers.meter import MeterReader
from drivers.meter_profiles import PROFILES
from drivers.modbus_rtu import ModbusMaster
from drivers.modem_line import ModemLine
from drivers.ntc import Ntc
from drivers.relays import RelayBank
from drivers.voice_jq8900 import Voice
from firmware.readings import Readings


class SimBoard:
    """Builds every driver on ptys and the pin bus named by the environment the world sets."""

    def __init__(self, cfg):
        bus = PinBus(os.getenv("PILE_PINBUS"))
        self.bus = bus
        count = cfg["PORT_COUNT"]
        self.relays = RelayBank([Pin(bus, gpio, Pin.OUT) for gpio in pinmap.RELAY_GPIOS[:count]])
        meter_uart = PtyUart(os.getenv("PILE_METER_TTY"), cfg["METER_BAUD"])
        master = ModbusMaster(
            meter_uart,
            cfg["METER_BAUD"],
            de_pin=Pin(bus, pinmap.METER_DE_GPIO, Pin.OUT),
            timeout_ms=cfg["METER_TIMEOUT_MS"],
            retries=cfg["METER_RETRIES"],
        )
        self.readings = Readings(count)
        self.meter = MeterReader(master, PROFILES[cfg["METER_PROFILE"]], self.readings, cfg["METER_ADDRESS"])
        self.coin = CoinAcceptor(
            Pin(bus, pinmap.COIN_GPIO, Pin.IN),
            cfg["COIN_PULSES"],
            cfg["COIN_DEBOUNCE_MS"],
            cfg["COIN_GAP_MS"],
        )
        # Keypad rows toggle every scan; the host needs the contacts, not the scan traffic.
        self.keypad = Keypad(
            [Pin(bus, gpio, Pin.OUT, report=False) for gpio in pinmap.KEYPAD_ROW_GPIOS],
            [Pin(bus, gpio, Pin.IN) for gpio in pinmap.KEYPAD_COL_GPIOS],
        )
        self.smoke = Pin(bus, pinmap.SMOKE_GPIO, Pin.IN)
        self.thermometer = Ntc(ADC(Pin(bus, pinmap.NTC_ADC_GPIO, Pin.IN)))
        self.buzzer = Pin(bus, pinmap.BUZZER_GPIO, Pin.OUT)
        self.buzzer.value(0)
        self.lcd = Lcd(I2C(bus), pinmap.LCD_I2C_ADDRESS)
        self.voice = Voice(PtyUart(os.getenv("PILE_VOICE_TTY"), 9600))
        self.modem_line = None
        modem_tty = os.getenv("PILE_MODEM_TTY")
        if modem_tty:
            # asyncio streams poll the pty file itself (PtyUart is not pollable).
            modem_uart = open(modem_tty, "r+b", buffering=0)
            self.modem_line = ModemLine(modem_uart, Pin(bus, pinmap.MODEM_PWRKEY_GPIO, Pin.OUT), HostPpp)
        self.card_reader = None
        card_spi = os.getenv("PILE_CARD_SPI")
        if card_spi:
            from drivers.mfrc522 import Mfrc522

            # Chip select toggles twice per register access: the host needs the SPI frames, not that.
            self.card_reader = Mfrc522(SPI(card_spi), Pin(bus, pinmap.CARD_CS_GPIO, Pin.OUT, report=False))
        # Built by the main meter task after boot (firmware/shell/main_meter_task.py); None: not fitted.
        self.main_meter = self._main_meter if os.getenv("PILE_MAIN_METER_TTY") else None

        self.flash = None

    def _main_meter(self, cfg):
        """The DL/T 645 main meter's reader, on its own pty at MAIN_METER_BAUD 8E1."""
        from drivers.main_meter import MainMeterReader

        baudrate = cfg["MAIN_METER_BAUD"]
        uart = PtyUart(os.getenv("PILE_MAIN_METER_TTY"), baudrate, bits_per_char=11)
        return MainMeterReader(uart, baudrate, Pin(self.bus, pinmap.MAIN_METER_DE_GPIO, Pin.OUT))

    async def start(self):
        """Start the pin bus and bring up the display."""
        asyncio.create_task(self.bus.serve())
        await self.lcd.start()

    def mount_flash(self):
        """Mount the littlefs image at /flash (never formatting it); OSError if it will not mount."""
        self.flash = FileFlash(os.getenv("PILE_FLASH_IMAGE"), self.bus)
        # The stubs declare VfsLfs2 abstract and want their own block-device base class.
        vfs.mount(vfs.VfsLfs2(self.flash), "/flash")  # type: ignore[abstract, arg-type]
        return "/flash"

    async def network_up(self):
        """With a modem, its data call must be up (OSError while not); the packets then go over the
        host's network, which the world's proxy between pile and broker can cut."""
        if self.modem_line is not None and not self.modem_line.isconnected():
            raise OSError(errno.EHOSTUNREACH)

    def watchdog(self, timeout_ms):
        """The board's watchdog, started: it resets the board unless fed within ``timeout_ms``."""
        return Watchdog(self.bus, timeout_ms)

    def reset(self):
        """Restart the board (a remote reboot): the world cuts the VM and boots it again."""
        self.relays.all_off()
        self.bus.send(b"E reset\n")
