"""Lets the pure core import under CPython as well as MicroPython.

MicroPython's compiler folds ``X = const(1)`` at build time whatever module
``const`` comes from; CPython only needs a callable that returns its argument.
"""

try:
    from micropython import const
except ImportError:

    def const(value):  # type: ignore[misc]  # same behaviour as the stub's generic signature
        """Identity under CPython; folded by the MicroPython compiler."""
        return value


__all__ = ["const"]
