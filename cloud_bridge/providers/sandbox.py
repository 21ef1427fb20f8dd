"""The sandbox payment provider: a stand-in for a real one, inside the bridge, for demos and tests.

It behaves as a real provider does toward the bridge: ``create_payment`` answers with the URL of its own
pay page (``/sandbox/pay/<tx>``), where the resident presses "Pay" or "Cancel"; then it POSTs a signed
notification (JSON, HMAC-SHA256 under a secret made for this run, header ``X-Sandbox-Signature``) to the
bridge's notify URL from a thread of its own, retrying until answered 200, as providers do. Tests send
the same notification again with ``resend``. Refunds are kept in ``refunds``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from cloud_bridge.providers.provider import ForgedNotification, MalformedNotification, Notification, ProviderPayment

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Sandbox-Signature"
PAY_PATH = "/sandbox/pay/"
NOTIFY_TIMEOUT_S = 5.0
NOTIFY_ATTEMPTS = 5
NOTIFY_RETRY_FIRST_S = 0.5


@dataclass
class SandboxPayment:
    """A payment as the sandbox holds it."""

    tx: str
    reference: str
    amount_fen: int
    return_url: str
    notify_url: str
    outcome: str = ""  # "", "paid" or "cancelled"
    notification: bytes = b""  # the exact body sent, so a retry is the same notification


@dataclass(frozen=True)
class SandboxRefund:
    refund_id: str
    provider_tx: str
    reference: str
    amount_fen: int
    reason: str


class SandboxProvider:
    """A payment provider that lives in the bridge. Thread-safe."""

    name = "sandbox"

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)  # per run: nothing to keep out of the repo
        self._lock = threading.Lock()
        self._payments: dict[str, SandboxPayment] = {}
        self._by_reference: dict[str, str] = {}
        self._refunds: dict[str, SandboxRefund] = {}

    # -- the adapter interface

    def create_payment(self, amount_fen: int, reference: str, return_url: str, notify_url: str) -> ProviderPayment:
        """A sandbox payment (the same one again for a reference it has seen) and its pay page's path."""
        with self._lock:
            tx = self._by_reference.get(reference)
            if tx is None:
                tx = "sbx" + secrets.token_hex(8)
                self._payments[tx] = SandboxPayment(tx, reference, amount_fen, return_url, notify_url)
                self._by_reference[reference] = tx
        return ProviderPayment(tx, PAY_PATH + tx)

    def verify_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """The notification in ``body`` if its signature is this run's; raises otherwise."""
        signature = headers.get(SIGNATURE_HEADER.lower()) or headers.get(SIGNATURE_HEADER) or ""
        if not hmac.compare_digest(signature.encode(), self.sign(body).encode()):
            raise ForgedNotification("signature does not verify")
        try:
            fields = json.loads(body)
            notification = Notification(
                fields["tx"], fields["reference"], fields["amount_fen"], fields["status"] == "paid"
            )
        except (ValueError, KeyError, TypeError) as error:
            raise MalformedNotification("unreadable notification: %s" % error) from None
        if not (isinstance(notification.reference, str) and type(notification.amount_fen) is int):
            raise MalformedNotification("reference or amount_fen of the wrong type")
        return notification

    def refund(self, provider_tx: str, reference: str, amount_fen: int, reason: str) -> str:
        """Record the refund (once per reference) and answer its id."""
        with self._lock:
            refund = self._refunds.get(reference)
            if refund is None:
                refund = SandboxRefund("rf" + secrets.token_hex(8), provider_tx, reference, amount_fen, reason)
                self._refunds[reference] = refund
        return refund.refund_id

    # -- the sandbox's own

    def sign(self, body: bytes) -> str:
        """The signature of a notification body under this run's secret (hex)."""
        return hmac.new(self._secret, body, hashlib.sha256).hexdigest()

    def payment(self, tx: str) -> SandboxPayment | None:
        """The sandbox payment ``tx``, None if there is none."""
        with self._lock:
            return self._payments.get(tx)

    @property
    def refunds(self) -> list[SandboxRefund]:
        """The refunds made, in order."""
        with self._lock:
            return list(self._refunds.values())

    def decide(self, tx: str, pay: bool) -> SandboxPayment:
        """The resident pressed "Pay" (``pay``) or "Cancel": the notification goes out in the background.
        Raises ``KeyError`` for an unknown ``tx``; a payment decided already keeps its first decision."""
        with self._lock:
            payment = self._payments[tx]
            if not payment.outcome:
                payment.outcome = "paid" if pay else "cancelled"
                payment.notification = json.dumps(
                    {
                        "tx": tx,
                        "reference": payment.reference,
                        "amount_fen": payment.amount_fen,
                        "status": payment.outcome,
                        "time": int(time.time()),
                    }
                ).encode()
        threading.Thread(target=self._notify_until_taken, args=(payment,), name="sandbox-notify", daemon=True).start()
        return payment

    def resend(self, tx: str) -> int:
        """Send a decided payment's notification again, the same bytes; the HTTP status the bridge answered."""
        payment = self.payment(tx)
        if payment is None or not payment.outcome:
            raise KeyError("no notification to send again for %r" % tx)
        return self._notify(payment)

    def _notify(self, payment: SandboxPayment) -> int:
        request = urllib.request.Request(
            payment.notify_url,
            data=payment.notification,
            headers={"Content-Type": "application/json", SIGNATURE_HEADER: self.sign(payment.notification)},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=NOTIFY_TIMEOUT_S) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code

    def _notify_until_taken(self, payment: SandboxPayment) -> None:
        delay = NOTIFY_RETRY_FIRST_S
        for _ in range(NOTIFY_ATTEMPTS):
            try:
                status = self._notify(payment)
            except OSError as error:
                status, why = 0, str(error)
            else:
                why = "HTTP %d" % status
            if status == 200:
                return
            log.warning("sandbox: notification of %s not taken (%s); again in %.1f s", payment.tx, why, delay)
            time.sleep(delay)
            delay *= 2
        log.error("sandbox: notification of %s given up after %d attempts", payment.tx, NOTIFY_ATTEMPTS)
