"""The payment provider adapter: what the payment flow asks of a provider (WeChat Pay, Alipay, ...).

A provider is given an amount and an opaque reference (the bridge's payment id) and answers with the
URL to send the resident to; it later notifies the bridge over HTTP that the payment went through (or
was cancelled), signed so that the bridge can tell its notifications from forgeries, possibly several
times; and it refunds what the resident did not use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ProviderPayment:
    """A payment as the provider made it: its own id, and where the resident pays."""

    provider_tx: str
    pay_url: str


@dataclass(frozen=True)
class Notification:
    """A verified notification: ``paid`` True when the money arrived, False when the resident cancelled."""

    provider_tx: str
    reference: str
    amount_fen: int
    paid: bool


class ForgedNotification(Exception):
    """A notification whose signature does not verify: not from the provider."""


class MalformedNotification(Exception):
    """A notification that is signed but cannot be read (a missing or wrong-typed field)."""


class PaymentProvider(Protocol):
    """One payment provider, as the payment flow uses it."""

    name: str

    def create_payment(self, amount_fen: int, reference: str, return_url: str, notify_url: str) -> ProviderPayment:
        """Make a payment of ``amount_fen`` under ``reference``; the resident comes back to ``return_url``,
        the notification goes to ``notify_url``. The same reference twice is the same payment."""
        ...

    def verify_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """The notification in an HTTP request to the notify endpoint; raises ``ForgedNotification`` or
        ``MalformedNotification``."""
        ...

    def refund(self, provider_tx: str, reference: str, amount_fen: int, reason: str) -> str:
        """Give ``amount_fen`` of a payment back; the refund's id. The same reference again is the same
        refund, so a retry after an error refunds once."""
        ...
