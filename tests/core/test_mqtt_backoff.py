"""Reconnect back-off: exponential, randomised within its window, capped."""

from firmware.cloud.mqtt import BACKOFF_MAX_MS, BACKOFF_MIN_MS, backoff_ms


def test_backoff_grows_stays_in_its_window_and_is_capped():
    for attempt in range(15):
        ceiling = min(BACKOFF_MIN_MS << min(attempt, 9), BACKOFF_MAX_MS)
        delays = [backoff_ms(attempt) for _ in range(50)]
        assert all(ceiling // 2 <= delay <= ceiling for delay in delays), (attempt, delays)
    assert len({backoff_ms(5) for _ in range(50)}) > 5  # randomised, so a fleet does not reconnect in step
