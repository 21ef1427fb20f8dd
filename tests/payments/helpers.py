"""Small helpers of the payment tests: waiting for a payment or an outcome, and what the fake pile answers."""

from __future__ import annotations

from tests.bridge.command_pile import CommandPile
from tests.bridge.helpers import count, wait_until

__all__ = [
    "count",
    "wait_until",
    "state_becomes",
    "refund_paid",
    "reported",
    "answer_done",
    "answer_refused",
    "answer_expired",
]

REFUSED = 5  # a pile's result code for a refusal (docs/cloud-protocol.md)


def state_becomes(ledger, payment_id: str, state: str, timeout_s: float = 10.0) -> dict:
    """Wait until the payment is in ``state``; the payment."""
    wait_until(lambda: ledger.payment(payment_id)["state"] == state, timeout_s, "payment %s" % state)
    return ledger.payment(payment_id)


def refund_paid(ledger, payment_id: str, timeout_s: float = 10.0) -> None:
    """Wait until the provider has taken the payment's refund (the ledger notes that after the call, and
    sets the payment's state before it)."""

    def paid() -> bool:
        return any(event["kind"] == "refund" and event["done_at"] is not None for event in ledger.events(payment_id))

    wait_until(paid, timeout_s, "the refund of %s paid" % payment_id)


def reported(db, pile: str, command_id: int) -> None:
    """Wait until the channel has handed the command's outcome to every callback (it notes that after)."""

    def noted() -> bool:
        rows = db.query("SELECT reported_at FROM commands WHERE pile = ? AND id = ?", (pile, command_id))
        return bool(rows) and rows[0][0] is not None

    wait_until(noted, what="the outcome of command %d reported" % command_id)


def answer_done(pile: CommandPile, order_no: int) -> None:
    """The pile answers its next start ``done``, with order ``order_no`` as the answer's data."""
    pile.order_no, pile.answering = order_no - 1, True


def answer_refused(pile: CommandPile, detail: str) -> None:
    """The pile refuses every start, saying ``detail``."""
    pile.refuse["start"], pile.answering = (REFUSED, detail), True


def answer_expired(pile: CommandPile) -> None:
    """The pile answers every command ``expired`` (result 2): its clock is an hour past their expiry."""
    pile.clock_ahead_s, pile.answering = 3600, True
