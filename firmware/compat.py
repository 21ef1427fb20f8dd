"""Lets the pure core, and drivers the desk tools share, import under CPython as well as MicroPython.

MicroPython's compiler folds ``X = const(1)`` at build time whatever module
``const`` comes from; CPython only needs a callable that returns its argument.
``sleep_ms``, ``ticks_ms`` and ``ticks_diff`` are MicroPython's own where it
has them (asyncio.sleep_ms, time.ticks_*), equivalents under CPython.
"""

try:
    from asyncio import sleep_ms
    from time import ticks_diff, ticks_ms

    from micropython import const
except ImportError:
    import asyncio
    import time

    def const(value):  # type: ignore[misc]  # same behaviour as the stub's generic signature
        """Identity under CPython; folded by the MicroPython compiler."""
        return value

    async def sleep_ms(ms):  # type: ignore[no-redef]
        """asyncio.sleep in milliseconds."""
        await asyncio.sleep(ms / 1000)

    def ticks_ms():
        """A millisecond clock for intervals."""
        return time.monotonic_ns() // 1000000  # type: ignore[attr-defined]  # CPython's time has it

    def ticks_diff(end, start):  # type: ignore[no-redef]
        """Milliseconds from ``start`` to ``end`` (CPython's clock does not wrap)."""
        return end - start


__all__ = ["const", "sleep_ms", "ticks_diff", "ticks_ms"]
