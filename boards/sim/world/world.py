"""The virtual pile: the real firmware in a MicroPython VM, wired to emulated hardware.

Everything the firmware touches is emulated at the level of the real part's
wires: the RS485 meter is a pymodbus server behind a paced serial line, the
relays, keypad and coin acceptor are pin levels on the pin bus, the LCD is
I2C bytes into an HD44780 model, the voice module is UART frames. Chargers
draw power through the relays as the firmware switches them; tests can short
a port, blow its fuse or weld its relay, and fill the cabinet with smoke or
heat (boards/sim/world/cabinet.py).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path

from boards import pinmap
from boards.sim.world.cabinet import Cabinet
from boards.sim.world.charger import ConstantLoad, Load, make_charger
from boards.sim.world.flash import provision
from boards.sim.world.lcd import Hd44780Lcd
from boards.sim.world.main_meter import MainMeter
from boards.sim.world.meter_server import MeterModel, start_meter_server
from boards.sim.world.mfrc522 import Mfrc522
from boards.sim.world.mifare import ClassicCard
from boards.sim.world.modem import ModemEmulator
from boards.sim.world.network import NetworkProxy
from boards.sim.world.pinwire import PinWire
from boards.sim.world.serial_link import SerialLink
from boards.sim.world.spi_link import SpiLink
from boards.sim.world.vm import DEFAULT_HEAP, FirmwareVM
from boards.sim.world.voice import Jq8900Decoder, UartTap
from drivers.keypad import KEYS

PHYSICS_STEP_S = 0.05
MAINS_V = 230.0
SHORT_CIRCUIT_A = 50.0
WATCHDOG_POLL_S = 0.05
BOOT_TIMEOUT_S = 20
KEY_HOLD_S = 0.12
KEY_GAP_S = 0.08
MODEM_BAUD = 115200
MAIN_METER_BAUD = 2400
OFFLINE_PILE_ID = "SIM1"


class VirtualPile:
    """One pile and the world around it; every method runs on the world's event loop."""

    def __init__(
        self,
        config: dict | None = None,
        profile: str = "mc10",
        heap: str = DEFAULT_HEAP,
        speedup: float = 1.0,
        workdir: Path | None = None,
        seed: int = 1,
        cloud: dict | None = None,
        main_meter: bool = False,
        site_key: bytes | None = None,
    ) -> None:
        self.config = dict(config or {})
        self.config.setdefault("METER_PROFILE", profile)
        self.profile = self.config["METER_PROFILE"]
        self.baudrate = self.config.get("METER_BAUD", 9600)
        self.port_count = self.config.get("PORT_COUNT", 10)
        self.heap = heap
        self.speedup = speedup
        self.seed = seed
        self._tempdir = None if workdir else tempfile.TemporaryDirectory(prefix="pile-")
        self.workdir = workdir or Path(self._tempdir.name)
        self.model = MeterModel(self.port_count)
        self.loads: dict[int, Load] = {}
        self.relays = [0] * (self.port_count + 1)
        self.relay_events: list[tuple[float, int, int]] = []
        # Faults on the port lines: a short's current (A), fuses blown, relays welded shut.
        self.shorts: dict[int, float] = {}
        self.blown_fuses: set[int] = set()
        self.welded: set[int] = set()
        self.cabinet: Cabinet | None = None
        # With ``watch_cap_w`` set, the physics times every stretch in which the whole pile draws more:
        # the longest (s) and how many there were.
        self.watch_cap_w: float | None = None
        self.longest_over_cap_s = 0.0
        self.stretches_over_cap = 0
        self._over_cap_since: float | None = None
        self.lcd = Hd44780Lcd()
        self.voice = Jq8900Decoder()
        self.link: SerialLink | None = None
        self.pinwire: PinWire | None = None
        self.vm: FirmwareVM | None = None
        self.records: list[dict] = []
        self.text_lines: list[str] = []
        self.flash_image = self.workdir / "flash.img"
        self.powered = False
        self.boots = 0
        self.watchdog_resets = 0
        self.resets = 0  # resets the firmware asked for (remote reboot)
        self._watchdog_timeout_s: float | None = None
        self._last_feed = 0.0
        self._watchdog: asyncio.Task | None = None
        self._meter = None
        self._voice_tap: UartTap | None = None
        self._physics: asyncio.Task | None = None
        # {"broker": (host, port), "pile": id, "password": ..., "ca": path (optional), "key": the command
        # key, 64 hex digits (optional)}: the pile's account;
        # "registration" (optional): the cell network's first answer to the modem (1 home, 3 denied);
        # "network_time" (optional): the Unix time the network gives the modem.
        self.cloud = cloud
        self.network: NetworkProxy | None = None
        self.modem: ModemEmulator | None = None
        self._modem_line: SerialLink | None = None
        # With ``main_meter``, a DL/T 645 main meter on its own RS485 line (8E1): tests set its values and
        # damage its line. Off by default: its reader costs heap the TLS tests and benches do not spare.
        self.main_meter = MainMeter() if main_meter else None
        self.main_meter_line: SerialLink | None = None
        # With ``site_key``, an MFRC522 card reader on SPI, and the site's card key in the identity: tests
        # present cards to it (boards/sim/world/cards.py builds them) and take them away.
        self.site_key = site_key
        self.card_reader = Mfrc522() if site_key is not None else None
        self._card_link: SpiLink | None = None

    async def start(self) -> None:
        """Bring up the emulated hardware, then boot the firmware and wait for its boot line."""
        self.link = SerialLink(self.baudrate, seed=self.seed)
        self.link.start()
        self._meter = await start_meter_server(self.profile, self.link.peer_path, self.baudrate, self.model)
        self.pinwire = PinWire()
        await self.pinwire.start()
        self.pinwire.on_i2c(pinmap.LCD_I2C_ADDRESS, self.lcd.feed)
        self.cabinet = Cabinet(self.pinwire)
        await self.cabinet.start()
        for port, gpio in enumerate(pinmap.RELAY_GPIOS[: self.port_count], start=1):
            self.pinwire.on_output(gpio, self._relay_changed(port))
        self._voice_tap = UartTap(self.voice.feed)
        self._voice_tap.start()
        if self.main_meter is not None:
            baudrate = self.config.get("MAIN_METER_BAUD", MAIN_METER_BAUD)
            self.main_meter_line = SerialLink(baudrate, parity="E", seed=self.seed)
            self.main_meter_line.start()
            self.main_meter.start(self.main_meter_line.peer_path)
        self.pinwire.on_event("watchdog", self._watchdog_started)
        self.pinwire.on_event("feed", self._watchdog_fed)
        self.pinwire.on_event("cut", self._flash_cut)
        self.pinwire.on_event("reset", self._board_reset)
        (self.workdir / "config.json").write_text(json.dumps(self.config))
        if self.card_reader is not None:
            self._card_link = SpiLink(self.card_reader)
            self._card_link.start()
        if self.cloud is not None:
            await self._start_network()
        elif self.site_key is not None:
            # A pile provisioned with its id and the site's card key but no broker account yet.
            identity = {"pile": OFFLINE_PILE_ID, "site_key": self.site_key.hex()}
            (self.workdir / "identity.json").write_text(json.dumps(identity))
        if not self.flash_image.exists():
            await asyncio.to_thread(provision, self.flash_image)
        await self.pinwire.drive(pinmap.COIN_GPIO, 1)
        self._physics = asyncio.create_task(self._run_physics())
        self._watchdog = asyncio.create_task(self._run_watchdog())
        await self.power_restore()

    async def _start_network(self) -> None:
        """The proxy between pile and broker, and the identity an installer provisions on the pile."""
        host, port = self.cloud["broker"]
        self.network = NetworkProxy(host, port)
        await self.network.start()
        # The Cat.1 modem on its UART: off until the firmware presses PWRKEY, as after a real power-up.
        self._modem_line = SerialLink(MODEM_BAUD, seed=self.seed)
        self._modem_line.start()
        self.modem = ModemEmulator(self._modem_line.peer_path, powered=False)
        self.modem.set_registration(self.cloud.get("registration", 1))
        if "network_time" in self.cloud:
            self.modem.set_network_time(self.cloud["network_time"])
        self.modem.start()
        self.pinwire.on_output(pinmap.MODEM_PWRKEY_GPIO, self.modem.pwrkey_output)
        identity = {"pile": self.cloud["pile"], "password": self.cloud["password"]}
        identity.update(host="127.0.0.1", port=self.network.port)
        if "ca" in self.cloud:
            identity["ca"] = str(self.cloud["ca"])
        if "key" in self.cloud:
            identity["key"] = self.cloud["key"]
        if self.site_key is not None:
            identity["site_key"] = self.site_key.hex()
        (self.workdir / "identity.json").write_text(json.dumps(identity))

    async def power_restore(self) -> None:
        """Power comes (back): the board boots from its flash; waits for boot or safe mode."""
        self.vm = FirmwareVM(
            self.workdir,
            {
                "PILE_PINBUS": f"127.0.0.1:{self.pinwire.port}",
                "PILE_METER_TTY": self.link.device_path,
                "PILE_VOICE_TTY": self._voice_tap.path,
                **({"PILE_MAIN_METER_TTY": self.main_meter_line.device_path} if self.main_meter_line else {}),
                "PILE_CONFIG": "config.json",
                "PILE_FLASH_IMAGE": str(self.flash_image),
                **({"PILE_MODEM_TTY": self._modem_line.device_path} if self._modem_line else {}),
                **({"PILE_CARD_SPI": self._card_link.device_path} if self._card_link else {}),
            },
            self.heap,
            self.records,
            self.text_lines,
        )
        self.powered = True
        self.boots += 1
        self._watchdog_timeout_s = None
        vm = self.vm
        await vm.start()
        await self.wait_for(
            lambda: any(r["log"] == "boot" or r.get("alarm") == "safe_mode" for r in vm.own_records()),
            BOOT_TIMEOUT_S,
            "firmware boot",
        )

    async def power_cut(self) -> None:
        """The power goes: the firmware stops dead and every relay drops."""
        self.powered = False
        if self.vm:
            await self.vm.stop()
        self._board_off()
        if self.modem:
            self.modem.power_loss()  # the modem hangs on the same supply

    async def cut_after_writes(self, count: int, completes: bool = True) -> None:
        """Cut the power at the ``count``-th flash block program from now (which completes or not)."""
        await self.pinwire.command(f"cut {count} {int(completes)}")

    async def hold_i2c_bus(self, stuck: bool = True) -> None:
        """Make the I2C bus hang the next write (a device holding SCL low)."""
        await self.pinwire.command(f"stuck {int(stuck)}")

    def _board_off(self) -> None:
        """A board without power or in reset drives no relay coil."""
        now = time.monotonic()
        for port in range(1, self.port_count + 1):
            if self.relays[port]:
                self.relays[port] = 0
                self.relay_events.append((now, port, 0))

    def _flash_cut(self, _args: str, _t: float) -> None:
        asyncio.get_running_loop().create_task(self.power_cut())

    def _board_reset(self, _args: str, _t: float) -> None:
        asyncio.get_running_loop().create_task(self._restart())

    async def _restart(self) -> None:
        """The firmware reset its board (a remote reboot): it stops, the relays drop, and it boots again."""
        self.resets += 1
        # Counts as a feed: the watchdog must not reset the board a second time while this reset runs.
        self._last_feed = time.monotonic()
        await self.vm.stop()
        self._board_off()
        await self.power_restore()

    def _watchdog_started(self, args: str, _t: float) -> None:
        self._watchdog_timeout_s = int(args) / 1000
        self._last_feed = time.monotonic()

    def _watchdog_fed(self, _args: str, _t: float) -> None:
        self._last_feed = time.monotonic()

    async def _run_watchdog(self) -> None:
        """The board's watchdog: no feed within its timeout (or a firmware that died) resets the board."""
        while True:
            await asyncio.sleep(WATCHDOG_POLL_S)
            if not self.powered or self._watchdog_timeout_s is None or self.vm is None:
                continue
            if time.monotonic() - self._last_feed > self._watchdog_timeout_s:
                self.watchdog_resets += 1
                await self.vm.stop()
                self._board_off()
                await self.power_restore()

    async def stop(self) -> None:
        """Stop the firmware and take the hardware down."""
        self.powered = False
        if self._watchdog:
            self._watchdog.cancel()
        if self.vm:
            await self.vm.stop()
        if self._physics:
            self._physics.cancel()
        if self._meter:
            await self._meter.stop()
        if self.network:
            await self.network.stop()
        if self.modem:
            self.modem.close()
        if self._modem_line:
            self._modem_line.close()
        if self.pinwire:
            await self.pinwire.close()
        if self._voice_tap:
            self._voice_tap.close()
        if self.main_meter:
            self.main_meter.close()
        if self.main_meter_line:
            self.main_meter_line.close()
        if self._card_link:
            self._card_link.close()
        if self.link:
            self.link.close()
        if self._tempdir:
            self._tempdir.cleanup()

    def _relay_changed(self, port: int):
        def changed(_gpio: int, level: int, t_monotonic: float) -> None:
            self.relays[port] = level
            self.relay_events.append((t_monotonic, port, level))

        return changed

    async def _run_physics(self) -> None:
        """Chargers draw power through closed relays; the meter integrates energy."""
        last = time.monotonic()
        while True:
            await asyncio.sleep(PHYSICS_STEP_S)
            now = time.monotonic()
            dt_s = now - last
            last = now
            for port in range(1, self.port_count + 1):
                closed = bool(self.relays[port]) or port in self.welded
                load = self.loads.get(port)
                watts = load.power_w(dt_s, closed) if load else 0.0
                if port in self.shorts:
                    watts = self.shorts[port] * MAINS_V
                if port in self.blown_fuses or not closed:
                    watts = 0.0
                self.model.set_power(port, watts)
            self.model.advance(dt_s)
            if self.watch_cap_w is not None:
                self._time_over_cap(now)

    def _time_over_cap(self, now: float) -> None:
        total = sum(reading.power_w for reading in self.model.ports.values())
        if total <= self.watch_cap_w:
            self._over_cap_since = None
            return
        if self._over_cap_since is None:
            self._over_cap_since = now
            self.stretches_over_cap += 1
        self.longest_over_cap_s = max(self.longest_over_cap_s, now - self._over_cap_since)

    def firmware_dead(self) -> bool:
        """True when the firmware exited on a powered board with no watchdog to restart it.

        A VM created but not yet started (a watchdog reset in progress) is not dead.
        """
        return bool(self.vm) and self.vm.exited and self.powered and self._watchdog_timeout_s is None

    async def wait_for(self, predicate, timeout_s: float, what: str = "condition") -> None:
        """Wait until ``predicate()`` holds; a clear error names ``what`` when it never does."""
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if self.firmware_dead():
                raise RuntimeError(f"firmware exited while waiting for {what}:\n" + "\n".join(self.vm.text_lines[-30:]))
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")
            await asyncio.sleep(0.02)

    # What a resident does --------------------------------------------------------------

    def plug(self, port: int, charger: str | Load = "ebike", soc: float = 0.2) -> None:
        """Plug a charger (a preset name or a Load) into ``port``."""
        if isinstance(charger, str):
            charger = make_charger(charger, soc=soc, speedup=self.speedup, seed=self.seed + port)
        self.loads[port] = charger

    def unplug(self, port: int) -> None:
        """Pull the plug out of ``port``."""
        self.loads.pop(port, None)

    def set_load(self, port: int, watts: float) -> None:
        """Replace whatever is on ``port`` with a constant load (a heater, a power strip)."""
        self.loads[port] = ConstantLoad(watts, seed=self.seed + port)

    def present_card(self, card: ClassicCard) -> None:
        """Lay ``card`` on the reader (it stays there until ``remove_card``)."""
        assert self.card_reader is not None, "this pile has no card reader (give it a site_key)"
        self.card_reader.present(card)

    def remove_card(self) -> None:
        """Take the card off the reader."""
        assert self.card_reader is not None, "this pile has no card reader (give it a site_key)"
        self.card_reader.remove()

    async def insert_coins(self, count: int) -> None:
        """Drop ``count`` coins into the acceptor, one after another."""
        pulses = self.config.get("COIN_PULSES", 1)
        gap_s = self.config.get("COIN_GAP_MS", 300) / 1000 + 0.15
        for _ in range(count):
            await self.pinwire.pulse(pinmap.COIN_GPIO, pulses)
            await asyncio.sleep(gap_s)

    async def press(self, keys: str) -> None:
        """Press each key of ``keys`` on the 4x4 keypad."""
        for key in keys:
            index = KEYS.index(key)
            row = pinmap.KEYPAD_ROW_GPIOS[index // 4]
            col = pinmap.KEYPAD_COL_GPIOS[index % 4]
            await self.pinwire.contact(row, col, True)
            await asyncio.sleep(KEY_HOLD_S)
            await self.pinwire.contact(row, col, False)
            await asyncio.sleep(KEY_GAP_S)

    # What goes wrong -------------------------------------------------------------------

    def short_circuit(self, port: int, amps: float = SHORT_CIRCUIT_A) -> None:
        """A shorted lead on ``port``: ``amps`` flow whenever its relay (or a weld) closes the line;
        ``amps`` 0 takes the short away."""
        if amps:
            self.shorts[port] = amps
        else:
            self.shorts.pop(port, None)

    def blow_fuse(self, port: int) -> None:
        """``port``'s fuse opens: no voltage behind it, no current through it."""
        self.blown_fuses.add(port)
        self.model.ports[port].voltage_v = 0.0

    def weld_relay(self, port: int) -> None:
        """``port``'s relay contacts weld shut: the line conducts whatever the firmware drives."""
        self.welded.add(port)

    # What can be seen ------------------------------------------------------------------

    def port_power(self, port: int) -> float:
        """The power the meter measures on ``port`` now."""
        return self.model.ports[port].power_w

    def display(self) -> list[str]:
        """The four LCD lines."""
        return self.lcd.lines()

    def orders(self) -> list[dict]:
        """Orders the firmware has logged, across every boot."""
        return [r for r in self.records if r["log"] == "order"]

    def said(self) -> list[str]:
        """Prompt names the firmware queued for the voice, in order, across every boot."""
        return [r["prompt"] for r in self.records if r["log"] == "say"]
