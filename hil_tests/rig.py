"""The rig: what a HIL test can do to a pile and see of it, phrased as a resident's story.

``SimRig`` drives the virtual pile (the real firmware in a MicroPython VM with
emulated hardware). A bench rig for real hardware implements the same methods
and is chosen with ``pytest --rig``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from boards import pinmap
from boards.sim.world.flash import stored_orders
from boards.sim.world.mifare import ClassicCard
from boards.sim.world.sms_pdu_decode import Message, PduError
from boards.sim.world.vm import DEFAULT_HEAP
from boards.sim.world.world import VirtualPile
from firmware import prompts

CALL_TIMEOUT_S = 120


class SimRig:
    """A virtual pile run on its own event-loop thread, driven synchronously from a test."""

    def __init__(
        self,
        config: dict | None = None,
        profile: str = "mc10",
        speedup: float = 1.0,
        heap: str = DEFAULT_HEAP,
        cloud: dict | None = None,
        main_meter: bool = False,
        site_key: bytes | None = None,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="virtual-pile", daemon=True)
        self._thread.start()
        self.pile = VirtualPile(
            config,
            profile=profile,
            heap=heap,
            speedup=speedup,
            cloud=cloud,
            main_meter=main_meter,
            site_key=site_key,
        )
        self._orders_taken: set[int] = set()
        try:
            self._call(self.pile.start())
        except BaseException:
            self.close()
            raise

    def _call(self, coroutine, timeout: float = CALL_TIMEOUT_S):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def _on_loop(self, function: Callable, *args):
        async def call():
            return function(*args)

        return self._call(call())

    def close(self) -> None:
        """Stop the firmware and the world."""
        try:
            self._call(self.pile.stop(), timeout=30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            if not self._thread.is_alive():
                # The loop's worker threads (image builds, flash provisioning) go with it.
                self._loop.run_until_complete(self._loop.shutdown_default_executor())
                self._loop.close()

    # The 4G link between pile and broker ----------------------------------------------------

    def link_down(self) -> None:
        """The cell drops: bytes vanish both ways, nobody is told."""
        self._on_loop(self.pile.network.link_down)

    def link_up(self) -> None:
        """The cell is back (connections that lived through the outage are gone)."""
        self._on_loop(self.pile.network.link_up)

    def link_flap(self, down_s: float, up_s: float, times: int) -> None:
        """Down and up ``times`` over; returns when the last up period ends."""
        self._call(self.pile.network.link_flap(down_s, up_s, times))

    def link_reset(self) -> None:
        """Every connection between pile and broker closed at once."""
        self._on_loop(self.pile.network.reset)

    def lose_answers(self, lost: bool = True) -> None:
        """The broker's packets to the pile vanish (PUBACKs lost) while the pile's still arrive."""
        self.pile.network.answers_lost = lost

    def link_delay(self, seconds: float) -> None:
        """Latency added to every chunk, each way."""
        self.pile.network.delay_s = seconds

    def modem_registration(self, stat: int) -> None:
        """The cell network's answer to the modem: 1 home, 5 roaming, 2 searching, 3 denied."""
        self._on_loop(self.pile.modem.set_registration, stat)

    def modem_hang(self) -> None:
        """The modem stops answering, as a stuck module does, until it is power-cycled."""
        self._on_loop(self.pile.modem.hang)

    def texts(self) -> list[Message]:
        """The SMS the modem has sent, each whole (recipient, text, parts); none while a message's
        parts are still going out."""

        def whole() -> list[Message]:
            try:
                return self.pile.modem.texts()
            except PduError:
                return []

        return self._on_loop(whole)

    def modem_commands(self) -> list[str]:
        """Every AT command line the modem received."""
        return list(self.pile.modem.commands)

    def wait_sent(self, order_no: int, timeout_s: float) -> None:
        """Wait until the broker acknowledged order ``order_no`` and it left the pile's outbox."""
        self.wait_until(
            lambda: any(r.get("sent") == order_no for r in self.records("cloud")), timeout_s, f"order {order_no} sent"
        )

    # A resident's actions ---------------------------------------------------------------

    def plug(self, port: int, charger="ebike", soc: float = 0.2) -> None:
        """Plug a charger (preset name or Load) into ``port``."""
        self._on_loop(self.pile.plug, port, charger, soc)

    def unplug(self, port: int) -> None:
        """Pull the plug of ``port``."""
        self._on_loop(self.pile.unplug, port)

    def set_load(self, port: int, watts: float) -> None:
        """Put a constant load of ``watts`` on ``port`` (heater, power strip)."""
        self._on_loop(self.pile.set_load, port, watts)

    def insert_coins(self, count: int) -> None:
        """Insert ``count`` coins."""
        self._call(self.pile.insert_coins(count))

    def coin_pulse_train(self, count: int, low_ms: float, high_ms: float) -> None:
        """Raw pulses on the coin line (a bouncing contact, a short train), without the coin gap."""
        self._call(self.pile.pinwire.pulse(pinmap.COIN_GPIO, count, low_ms, high_ms))

    def press(self, keys: str) -> None:
        """Press the keys of ``keys`` in turn."""
        self._call(self.pile.press(keys))

    def pay_coins(self, port: int, coins: int) -> None:
        """Choose ``port``, insert ``coins``, confirm."""
        self.press(f"{port}#")
        self.insert_coins(coins)
        self.press("#")

    def meter_fault(self, kind: str | None, replies: int | None = None) -> None:
        """Damage the meter's replies: "silence", "garbage", "bad_crc", "short", "late"; None heals the line.

        With ``replies``, only that many replies are damaged.
        """
        self._on_loop(self.pile.link.set_fault, kind, replies)

    def meter_silent(self, address: int, silent: bool = True) -> None:
        """Make one meter on the bus (by Modbus address) stop answering."""
        self._on_loop(self.pile.model.set_enabled, address, not silent)

    def main_meter_values(
        self,
        energy_wh: int | None = None,
        voltage_dv: int | None = None,
        current_ma: int | None = None,
        power_w: int | None = None,
    ) -> None:
        """Set what the DL/T 645 main meter measures (current and power negative: reverse flow).

        The meter counts energy in 0.01 kWh and power in 0.1 W, so Wh are kept to tens.
        """

        def set_values() -> None:
            meter = self.pile.main_meter
            if energy_wh is not None:
                meter.energy_centi_kwh = energy_wh // 10
            if voltage_dv is not None:
                meter.voltage_deci_v = voltage_dv
            if current_ma is not None:
                meter.current_milli_a = current_ma
            if power_w is not None:
                meter.power_decimilli_kw = power_w * 10

        self._on_loop(set_values)

    def main_meter_fault(self, kind: str | None) -> None:
        """Damage the main meter's replies: "silence", "garbage", "bad_crc", "short"; None heals the line."""
        self._on_loop(self.pile.main_meter_line.set_fault, kind)

    def power_cut(self) -> None:
        """Cut the pile's power now (whatever the firmware is doing)."""
        self._call(self.pile.power_cut())

    def power_restore(self) -> None:
        """Give the power back; returns once the firmware has booted (or entered safe mode)."""
        self._call(self.pile.power_restore())

    def cut_after_writes(self, count: int, completes: bool = True) -> None:
        """Arm a power cut at the ``count``-th flash block program from now."""
        self._call(self.pile.cut_after_writes(count, completes))

    def stored_orders(self) -> list[dict]:
        """The orders in the pile's flash outbox (read while the power is off)."""
        assert not self.pile.powered, "read the flash with the power off"
        return stored_orders(self.pile.flash_image)

    def present_card(self, card: ClassicCard) -> None:
        """Lay ``card`` on the reader; it stays until ``remove_card``."""
        self._on_loop(self.pile.present_card, card)

    def remove_card(self) -> None:
        """Take the card off the reader."""
        self._on_loop(self.pile.remove_card)

    def tear_card_write(self, after_writes: int = 0, keep_bytes: int = 8) -> None:
        """The card leaves the reader in the middle of a block write, after ``after_writes`` whole ones."""
        self._on_loop(self.pile.card_reader.tear_next_write, keep_bytes, after_writes)

    def hold_i2c_bus(self, stuck: bool = True) -> None:
        """Make the display's I2C bus hang the firmware's next write to it."""
        self._call(self.pile.hold_i2c_bus(stuck))

    # Fire and faults --------------------------------------------------------------------

    def smoke(self, present: bool = True) -> None:
        """Smoke reaches the cabinet's detector (or clears from it)."""
        self._call(self.pile.cabinet.set_smoke(present))

    def cabinet_temperature(self, celsius: float) -> None:
        """The cabinet's air warms or cools to ``celsius``."""
        self._call(self.pile.cabinet.set_temperature(celsius))

    def break_thermistor(self) -> None:
        """The cabinet thermometer's lead breaks."""
        self._call(self.pile.cabinet.break_thermistor())

    def short_circuit(self, port: int, amps: float = 50.0) -> None:
        """A shorted lead on ``port`` (``amps`` 0 takes it away)."""
        self._on_loop(self.pile.short_circuit, port, amps)

    def meter_over_current_flag(self, port: int, raised: bool = True) -> None:
        """The meter raises (or drops) its own over-current flag for ``port``."""
        self._on_loop(self.pile.model.set_fault, port, raised)

    def blow_fuse(self, port: int) -> None:
        """``port``'s fuse opens."""
        self._on_loop(self.pile.blow_fuse, port)

    def weld_relay(self, port: int) -> None:
        """``port``'s relay contacts weld shut."""
        self._on_loop(self.pile.weld_relay, port)

    # What can be seen -------------------------------------------------------------------

    def relay(self, port: int) -> int:
        """1 while ``port``'s relay is closed."""
        return self.pile.relays[port]

    def port_power(self, port: int) -> float:
        """The power the meter measures on ``port``."""
        return self.pile.port_power(port)

    def watch_cap(self, cap_w: float) -> None:
        """From now on the world times every stretch in which the pile draws more than ``cap_w``."""
        self._on_loop(setattr, self.pile, "watch_cap_w", cap_w)

    def over_cap(self) -> tuple[float, int]:
        """(longest stretch over the watched cap in seconds, how many stretches) so far."""
        return self.pile.longest_over_cap_s, self.pile.stretches_over_cap

    def display(self) -> list[str]:
        """The LCD's four lines."""
        return self.pile.display()

    def buzzer(self) -> int:
        """1 while the cabinet's buzzer sounds."""
        return self.pile.cabinet.buzzer

    def alarms(self, name: str | None = None) -> list[dict]:
        """The firmware's alarm records (of alarm ``name``), in order, across every boot."""
        return [r for r in self.records("alarm") if name is None or r["alarm"] == name]

    def voice(self) -> list[str]:
        """Names of the prompts the voice module was told to play, in order."""
        return [prompts.name(track) for track in self.pile.voice.tracks() if prompts.known(track)]

    def spoken(self) -> list[str]:
        """What the voice module said as clips (amounts), as text, in order."""
        return self.pile.voice.spoken()

    def said(self) -> list[str]:
        """Names of the prompts the firmware queued for the voice (before voice pacing)."""
        return self.pile.said()

    def orders(self) -> list[dict]:
        """Orders the firmware wrote."""
        return self.pile.orders()

    def records(self, kind: str) -> list[dict]:
        """The firmware's log records of ``kind``."""
        return [r for r in self.pile.records if r["log"] == kind]

    def wait_until(self, predicate: Callable[[], bool], timeout_s: float, what: str = "condition") -> None:
        """Wait for ``predicate()``; fails with ``what`` and the display if it never holds."""
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if self.pile.firmware_dead():
                raise AssertionError(f"firmware died waiting for {what}:\n" + "\n".join(self.pile.vm.text_lines[-30:]))
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no {what} within {timeout_s}s; display={self.display()} said={self.said()[-5:]}"
                    f" watchdog resets={self.pile.watchdog_resets} boots={self.pile.boots}"
                    f" last orders={self.orders()[-2:]} {self._meter_health()}"
                )
            time.sleep(0.05)

    def hold(self, seconds: float, invariant: Callable[[], bool], what: str) -> None:
        """Check ``invariant()`` keeps holding for ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert invariant(), f"{what} broke; display={self.display()} {self._meter_health()}"
            time.sleep(0.05)

    def _meter_health(self) -> str:
        """The meter reader's latest counters, for a failure message: which way the line went wrong."""
        health = self.records("health")
        if not health:
            return "no health record yet"
        names = ("scans", "failed_scans", "ok", "timeouts", "crc_errors", "short_frames", "garbage", "max_scan_ms")
        return "meter " + " ".join(f"{name}={health[-1].get(name)}" for name in names)

    def wait_order(self, port: int, timeout_s: float) -> dict:
        """Wait for an order of ``port`` not yet returned by this method, and return it."""

        def unseen() -> list[dict]:
            return [o for o in self.orders() if o["port"] == port and o["no"] not in self._orders_taken]

        self.wait_until(lambda: bool(unseen()), timeout_s, f"order on port {port}")
        order = unseen()[0]
        self._orders_taken.add(order["no"])
        return order
