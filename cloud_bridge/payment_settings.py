"""Settings of the QR payment flow: the amounts offered and the timings of a remote start."""

from __future__ import annotations

import os
from dataclasses import dataclass

AMOUNTS_ENV = "PAYMENT_AMOUNTS_YUAN"
FEN_PER_YUAN = 100


@dataclass(frozen=True)
class PaymentSettings:
    """``amounts_fen``: the choices on a port page. ``command_ttl_s``: how long a start command stays
    valid; a resident waits at the pile, so a start that has not reached it by then is refunded rather
    than run late (whole seconds: the command's expiry is). ``expiry_grace_s``: how long after that expiry
    the bridge waits for the pile's answer (an ack in flight) before refunding with "pile unreachable";
    as long as the channel's own grace (``channel.EXPIRY_GRACE_S``), so that its verdict comes first.
    ``sweep_s``: how often expiries, finished orders and unconfirmed refunds are looked for."""

    amounts_fen: tuple[int, ...] = (100, 200, 300, 500)
    command_ttl_s: int = 60
    expiry_grace_s: float = 60.0
    sweep_s: float = 2.0

    def __post_init__(self) -> None:
        if not self.amounts_fen or any(type(a) is not int or a < 1 for a in self.amounts_fen):
            raise ValueError("amounts must be whole fen, at least 1: %r" % (self.amounts_fen,))

    @classmethod
    def from_env(cls, **overrides) -> PaymentSettings:
        """The defaults, with the amounts from ``PAYMENT_AMOUNTS_YUAN`` (e.g. ``1,2,3,5``) when set."""
        text = os.environ.get(AMOUNTS_ENV)
        if text and "amounts_fen" not in overrides:
            overrides["amounts_fen"] = tuple(round(float(part) * FEN_PER_YUAN) for part in text.split(","))
        return cls(**overrides)


def yuan(fen: int) -> str:
    """``fen`` as a price label: ``¥1``, ``¥2.50``."""
    whole, part = divmod(fen, FEN_PER_YUAN)
    return "¥%d" % whole if part == 0 else "¥%d.%02d" % (whole, part)
