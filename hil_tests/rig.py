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
from boards.sim.world.vm import DEFAULT_HEAP
from boards.sim.world.world import VirtualPile
from firmware import prompts

CALL_TIMEOUT_S = 120


class SimRig:
    """A virtual pile run on its own event-loop thread, driven synchronously from a test."""

    def __init__(
        self, config: dict | None = None, profile: str = "mc10", speedup: float = 1.0, heap: str = DEFAULT_HEAP
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="virtual-pile", daemon=True)
        self._thread.start()
        self.pile = VirtualPile(config, profile=profile, heap=heap, speedup=speedup)
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

    def meter_fault(self, kind: str | None) -> None:
        """Damage the meter's replies: "silence", "garbage", "bad_crc", "short"; None heals the line."""
        self._on_loop(self.pile.link.set_fault, kind)

    def meter_silent(self, address: int, silent: bool = True) -> None:
        """Make one meter on the bus (by Modbus address) stop answering."""
        self._on_loop(self.pile.model.set_enabled, address, not silent)

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

    def hold_i2c_bus(self, stuck: bool = True) -> None:
        """Make the display's I2C bus hang the firmware's next write to it."""
        self._call(self.pile.hold_i2c_bus(stuck))

    # What can be seen -------------------------------------------------------------------

    def relay(self, port: int) -> int:
        """1 while ``port``'s relay is closed."""
        return self.pile.relays[port]

    def port_power(self, port: int) -> float:
        """The power the meter measures on ``port``."""
        return self.pile.port_power(port)

    def display(self) -> list[str]:
        """The LCD's four lines."""
        return self.pile.display()

    def voice(self) -> list[str]:
        """Names of the prompts the voice module was told to play, in order."""
        return [prompts.name(track) for track in self.pile.voice.tracks() if track in prompts.TEXTS]

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
                    f" last orders={self.orders()[-2:]}"
                )
            time.sleep(0.05)

    def hold(self, seconds: float, invariant: Callable[[], bool], what: str) -> None:
        """Check ``invariant()`` keeps holding for ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert invariant(), f"{what} broke; display={self.display()}"
            time.sleep(0.05)

    def wait_order(self, port: int, timeout_s: float) -> dict:
        """Wait for an order of ``port`` not yet returned by this method, and return it."""

        def unseen() -> list[dict]:
            return [o for o in self.orders() if o["port"] == port and o["no"] not in self._orders_taken]

        self.wait_until(lambda: bool(unseen()), timeout_s, f"order on port {port}")
        order = unseen()[0]
        self._orders_taken.add(order["no"])
        return order
