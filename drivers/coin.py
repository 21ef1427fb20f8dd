"""Pulse-output coin acceptor (CH-926 style): N active-low pulses per accepted coin."""

import time


class CoinAcceptor:
    """Counts debounced falling edges in the pin IRQ; ``take_coins`` turns finished trains into coins.

    The IRQ handler only increments a counter and the task only advances its
    own, so neither can lose a pulse to the other.
    """

    def __init__(self, pin, pulses_per_coin=1, debounce_ms=10, gap_ms=300):
        self.pulses_per_coin = pulses_per_coin
        self.debounce_ms = debounce_ms
        self.gap_ms = gap_ms
        self.pulses = 0
        self.stray_pulses = 0
        self._taken = 0
        self._last_edge_ms = time.ticks_ms()
        pin.irq(trigger=pin.IRQ_FALLING, handler=self._edge)

    def _edge(self, _pin):
        now = time.ticks_ms()
        # A negative difference means the last edge is more than half a tick period ago.
        since = time.ticks_diff(now, self._last_edge_ms)
        if since >= self.debounce_ms or since < 0:
            self.pulses += 1
            self._last_edge_ms = now

    def take_coins(self):
        """Coins whose pulse train has ended (no edge for ``gap_ms``) since the last call."""
        pending = self.pulses - self._taken
        if not pending:
            return 0
        since = time.ticks_diff(time.ticks_ms(), self._last_edge_ms)
        if 0 <= since < self.gap_ms:
            return 0
        coins = pending // self.pulses_per_coin
        self.stray_pulses += pending - coins * self.pulses_per_coin
        self._taken += pending
        return coins
