"""The virtual pile's board: the same drivers as a real board, wired to simulated hardware."""

import asyncio
import os

import vfs

from boards import pinmap
from boards.sim.simhw import I2C, FileFlash, Pin, PinBus, PtyUart, Watchdog
from drivers.coin import CoinAcceptor
from drivers.keypad import Keypad
from drivers.lcd_hd44780 import Lcd
from drivers.meter import MeterReader
from drivers.meter_profiles import PROFILES
from drivers.modbus_rtu import ModbusMaster
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
        self.lcd = Lcd(I2C(bus), pinmap.LCD_I2C_ADDRESS)
        self.voice = Voice(PtyUart(os.getenv("PILE_VOICE_TTY"), 9600))

        self.flash = None

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

    def watchdog(self, timeout_ms):
        """The board's watchdog, started: it resets the board unless fed within ``timeout_ms``."""
        return Watchdog(self.bus, timeout_ms)
