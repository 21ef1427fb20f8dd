"""The QR payment flow: a checkout, the provider's notification, a signed start, and what the pile made of it.

A payment goes ``created`` (the resident is sent to the provider) → ``paid`` (the provider's notification,
verified) → ``starting`` (the `start` command is out) → ``started`` (the pile acked `done`; its order no is
kept) → ``finished`` (the order came back with this payment's reference; what it returned is refunded).
Or it ends ``cancelled`` (the resident cancelled at the provider) or ``refunded`` in full: the pile refused
the start (port busy, ...), the command expired (acked `expired`, or no answer by its expiry plus a grace:
"pile unreachable"), or the command could not be sent.

Exactly once, by the database's keys (``payment_tables``), not by checks in code: a checkout token makes
one payment however often its form is sent; the ``paid`` event is claimed before the start command is
sent, so a notification delivered again finds it taken and neither starts nor credits a second time; a
payment has at most one ``refund`` event. Several bridges may share a database: whichever claims first acts.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cloud_bridge.db import Database
from cloud_bridge.payment_channel import DONE, EXPIRED, PENDING, CommandChannel, CommandStatus
from cloud_bridge.payment_settings import PaymentSettings
from cloud_bridge.payment_tables import create_payment_tables
from cloud_bridge.providers.provider import Notification, PaymentProvider

log = logging.getLogger(__name__)

CREATED, CANCELLED, PAID, STARTING = "created", "cancelled", "paid", "starting"
STARTED, REFUNDED, FINISHED = "started", "refunded", "finished"
PILE_UNREACHABLE = "pile unreachable"
NOT_SENT = "start command not sent"

PAYMENT_COLUMNS = (
    "payment_id",
    "pile",
    "port",
    "amount_fen",
    "provider",
    "provider_tx",
    "pay_url",
    "state",
    "command_id",
    "command_expires",
    "order_no",
    "reason",
    "refund_fen",
    "created_at",
    "updated_at",
)
_SELECT = "SELECT %s FROM payments" % ", ".join(PAYMENT_COLUMNS)
# Outcomes that arrive before their command id is recorded are kept this long (a bound: outcomes of
# start commands that are no payment's, an operator's say, would otherwise pile up).
_EARLY_OUTCOMES_KEPT = 256


class UnknownPayment(LookupError):
    """No payment has this id."""


class NotificationMismatch(ValueError):
    """A verified notification that does not fit its payment (another amount or provider)."""


def new_payment_id() -> str:
    """A fresh payment id: opaque, unguessable, and within the pile's 32 characters of payment reference."""
    return "qr" + secrets.token_hex(12)


class PaymentLedger:
    """The payment flow; each thread using it (HTTP workers, the channel's, the sweeper) has its own
    database connection, as connections are not shared between threads.

    ``channel``'s outcomes are followed from construction on; ``start()`` runs the sweeper (expiries,
    finished orders, refunds to retry), ``stop()`` ends it and closes the connection.
    """

    def __init__(
        self,
        db_url: str,
        channel: CommandChannel,
        provider: PaymentProvider,
        settings: PaymentSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db_url = db_url
        self._local = threading.local()
        self._databases: list[Database] = []
        self._lock = threading.RLock()
        create_payment_tables(self.db)
        self.channel = channel
        self.provider = provider
        self.settings = settings or PaymentSettings()
        self.clock = clock
        self._early: OrderedDict[tuple[str, int], tuple[str, Any, str, Any]] = OrderedDict()
        self._halt = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep_loop, name="payment-sweeper", daemon=True)
        channel.on_outcome(self._on_outcome)

    def start(self) -> PaymentLedger:
        """Start the sweeper thread."""
        self._sweeper.start()
        return self

    def stop(self) -> None:
        """Stop the sweeper and close the database connections."""
        self._halt.set()
        if self._sweeper.is_alive():
            self._sweeper.join(10)
        with self._lock:
            for db in self._databases:
                db.close()
            self._databases.clear()

    @property
    def db(self) -> Database:
        """This thread's connection to the database."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = Database(self.db_url)
            with self._lock:
                self._databases.append(db)
        return db

    @contextmanager
    def _transaction(self) -> Iterator[Database]:
        db = self.db
        with db.transaction():
            yield db

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.db.query(sql, params)

    def read(self, select: Callable[[Database], Any]) -> Any:
        """``select(db)`` on this thread's connection (the port page's telemetry, say)."""
        return select(self.db)

    # -- reading

    def payment(self, payment_id: str) -> dict:
        """The payment's row as a dict (``PAYMENT_COLUMNS``); raises ``UnknownPayment``."""
        rows = self._query(_SELECT + " WHERE payment_id = ?", (payment_id,))
        if not rows:
            raise UnknownPayment(payment_id)
        return dict(zip(PAYMENT_COLUMNS, rows[0], strict=True))

    def events(self, payment_id: str) -> list[dict]:
        """The money events of a payment (``paid``, ``refund``), oldest first."""
        rows = self._query(
            "SELECT kind, fen, detail, at, done_at FROM payment_events WHERE payment_id = ? ORDER BY at",
            (payment_id,),
        )
        return [dict(zip(("kind", "fen", "detail", "at", "done_at"), row, strict=True)) for row in rows]

    # -- checkout

    def checkout(
        self, checkout: str, pile: str, port: int, amount_fen: int, return_url: Callable[[str], str], notify_url: str
    ) -> dict:
        """The payment of checkout token ``checkout``, made (with the provider) the first time; the same
        token again is the same payment. ``return_url(payment_id)``: where the provider sends the resident
        back. Raises ``ValueError`` for an amount not offered."""
        if amount_fen not in self.settings.amounts_fen:
            raise ValueError("amount %r fen is not offered" % (amount_fen,))
        now = self.clock()
        with self._transaction() as db:
            made = db.query(
                "INSERT INTO payments (payment_id, checkout, pile, port, amount_fen, provider, state, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (checkout) DO NOTHING RETURNING payment_id",
                (new_payment_id(), checkout, pile, port, amount_fen, self.provider.name, CREATED, now, now),
            )
            ((payment_id,),) = made or db.query("SELECT payment_id FROM payments WHERE checkout = ?", (checkout,))
        if not made:
            log.info("checkout %s sent again: payment %s", checkout, payment_id)
        payment = self.payment(payment_id)
        if payment["pay_url"] is None:
            # Also when an earlier try failed at the provider: it knows the reference, so this is one payment.
            made_there = self.provider.create_payment(
                payment["amount_fen"], payment_id, return_url(payment_id), notify_url
            )
            with self._transaction() as db:
                db.execute(
                    "UPDATE payments SET provider_tx = ?, pay_url = ?, updated_at = ? WHERE payment_id = ?",
                    (made_there.provider_tx, made_there.pay_url, self.clock(), payment_id),
                )
            payment = self.payment(payment_id)
            log.info("payment %s: %d fen for %s port %d", payment_id, amount_fen, pile, port)
        return payment

    # -- the provider's notification

    def notified(self, notification: Notification) -> dict:
        """Act on a verified notification: a cancel ends a created payment; the first notice of the money
        sends the start command, any later one changes nothing. Raises ``UnknownPayment`` or
        ``NotificationMismatch``."""
        payment = self.payment(notification.reference)
        if notification.amount_fen != payment["amount_fen"]:
            raise NotificationMismatch(
                "payment %s is %d fen, the notification says %d"
                % (payment["payment_id"], payment["amount_fen"], notification.amount_fen)
            )
        if payment["provider_tx"] not in (None, notification.provider_tx):
            raise NotificationMismatch(
                "payment %s is the provider's %s, the notification names %s"
                % (payment["payment_id"], payment["provider_tx"], notification.provider_tx)
            )
        if not notification.paid:
            self._set_state(payment["payment_id"], CANCELLED, (CREATED,))
            return self.payment(payment["payment_id"])
        if not self._claim_paid(payment):
            log.info("payment %s: notification again, already %s", payment["payment_id"], payment["state"])
            return payment
        self._send_start(payment)
        return self.payment(payment["payment_id"])

    def _claim_paid(self, payment: dict) -> bool:
        """Record the money; True for the one caller that recorded it (the key refuses any other)."""
        now = self.clock()
        with self._transaction() as db:
            claimed = db.query(
                "INSERT INTO payment_events (payment_id, kind, fen, at, done_at) VALUES (?, 'paid', ?, ?, ?)"
                " ON CONFLICT DO NOTHING RETURNING payment_id",
                (payment["payment_id"], payment["amount_fen"], now, now),
            )
            if claimed:
                db.execute(
                    "UPDATE payments SET state = ?, updated_at = ? WHERE payment_id = ?",
                    (PAID, now, payment["payment_id"]),
                )
        return bool(claimed)

    def _send_start(self, payment: dict) -> None:
        """Send the start command of a payment just claimed; a command that cannot be sent is refunded."""
        payment_id, pile = payment["payment_id"], payment["pile"]
        args = {"port": payment["port"], "credit": payment["amount_fen"], "reference": payment_id}
        try:
            command_id = self.channel.send(pile, "start", args, self.settings.command_ttl_s)
        except Exception as error:  # whatever the channel's trouble, the resident gets the money back
            log.exception("payment %s: start command to %s not sent", payment_id, pile)
            self._refund(payment_id, payment["amount_fen"], "%s: %s" % (NOT_SENT, error), REFUNDED)
            return
        with self._lock:  # with the stash below: an outcome either finds the id recorded or is stashed
            with self._transaction() as db:
                db.execute(
                    "UPDATE payments SET state = ?, command_id = ?, command_expires = ?, updated_at = ?"
                    " WHERE payment_id = ? AND state = ?",
                    (STARTING, command_id, self.clock() + self.settings.command_ttl_s, self.clock(), payment_id, PAID),
                )
            log.info("payment %s: start command %d sent to %s port %d", payment_id, command_id, pile, payment["port"])
            early = self._early.pop((pile, command_id), None)
        if early is not None:
            self._settle(self.payment(payment_id), *early)

    # -- the pile's answer

    def _on_outcome(
        self, pile: str, command_id: int, kind: str, state: str, result: int | None, detail: str | None, data: Any
    ) -> None:
        """The channel's report on a command (its thread): settles the payment the command started."""
        if kind != "start" or state == PENDING:
            return
        with self._lock:
            rows = self._query(_SELECT + " WHERE pile = ? AND command_id = ?", (pile, command_id))
            if not rows:
                # Sent, its id not recorded yet (an answer faster than the bookkeeping), or no payment's.
                self._early[pile, command_id] = (state, result, detail, data)
                while len(self._early) > _EARLY_OUTCOMES_KEPT:
                    self._early.popitem(last=False)
                return
        self._settle(dict(zip(PAYMENT_COLUMNS, rows[0], strict=True)), state, result, detail, data)

    def _settle(self, payment: dict, state: str, result: int | None, detail: str | None, data: Any) -> None:
        """Apply a start command's outcome to its payment (again: no change)."""
        payment_id = payment["payment_id"]
        if state == DONE:
            order_no = data  # a start's answer data: the order no of the session it made
            if payment["state"] not in (PAID, STARTING, STARTED):
                log.error(
                    "payment %s: the pile started order %s, the payment is %s", payment_id, order_no, payment["state"]
                )
                return
            with self._transaction() as db:
                db.execute(
                    "UPDATE payments SET state = ?, order_no = ?, updated_at = ?"
                    " WHERE payment_id = ? AND state IN (?, ?)",
                    (STARTED, order_no, self.clock(), payment_id, PAID, STARTING),
                )
            log.info("payment %s: started, order %s", payment_id, order_no)
            return
        reason = PILE_UNREACHABLE if state == EXPIRED else (detail or "refused by the pile (code %s)" % result)
        if payment["state"] in (PAID, STARTING):
            self._refund(payment_id, payment["amount_fen"], reason, REFUNDED)

    def _refund(self, payment_id: str, fen: int, reason: str, state: str) -> None:
        """Record the refund (once: the key) and the payment's end, then have the provider pay it."""
        now = self.clock()
        with self._transaction() as db:
            recorded = db.query(
                "INSERT INTO payment_events (payment_id, kind, fen, detail, at, done_at)"
                " VALUES (?, 'refund', ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING payment_id",
                (payment_id, fen, reason, now, now if fen == 0 else None),
            )
            if recorded:
                db.execute(
                    "UPDATE payments SET state = ?, reason = ?, refund_fen = ?, updated_at = ? WHERE payment_id = ?",
                    (state, reason, fen, now, payment_id),
                )
        if recorded:
            log.info("payment %s: %s, %d fen to refund (%s)", payment_id, state, fen, reason)
            if fen > 0:
                self._pay_refund(payment_id)

    def _pay_refund(self, payment_id: str) -> None:
        """Have the provider pay a recorded refund; left for the sweeper to retry if it fails."""
        payment = self.payment(payment_id)
        ((fen, reason),) = self._query(
            "SELECT fen, detail FROM payment_events WHERE payment_id = ? AND kind = 'refund'", (payment_id,)
        )
        try:
            refund_id = self.provider.refund(payment["provider_tx"], payment_id, fen, reason)
        except Exception:  # the provider's trouble, whatever it is: the sweeper tries again
            log.exception("payment %s: refund of %d fen failed; will retry", payment_id, fen)
            return
        with self._transaction() as db:
            db.execute(
                "UPDATE payment_events SET done_at = ? WHERE payment_id = ? AND kind = 'refund'",
                (self.clock(), payment_id),
            )
        log.info("payment %s: %d fen refunded (%s)", payment_id, fen, refund_id)

    def _set_state(self, payment_id: str, state: str, from_states: tuple[str, ...]) -> None:
        marks = ", ".join("?" * len(from_states))
        with self._transaction() as db:
            db.execute(
                "UPDATE payments SET state = ?, updated_at = ? WHERE payment_id = ? AND state IN (%s)" % marks,
                (state, self.clock(), payment_id, *from_states),
            )

    # -- the sweeper

    def sweep(self) -> None:
        """One pass: refund starts gone unanswered, settle payments whose order came back, retry refunds."""
        self._expire_unanswered()
        self._settle_orders()
        for (payment_id,) in self._query(
            "SELECT payment_id FROM payment_events WHERE kind = 'refund' AND done_at IS NULL ORDER BY at"
        ):
            self._pay_refund(payment_id)

    def _sweep_loop(self) -> None:
        while not self._halt.wait(self.settings.sweep_s):
            try:
                self.sweep()
            except Database.ERRORS:
                log.exception("payment sweep failed; next pass in %.1f s", self.settings.sweep_s)
                self.db.reconnect()  # the connection may be what failed

    def _expire_unanswered(self) -> None:
        """Starts with no answer by their expiry plus the grace (or claimed and never sent) are refunded;
        the pile refuses them from their expiry on, so none can run late."""
        now = self.clock()
        overdue = now - self.settings.expiry_grace_s
        rows = self._query(
            _SELECT + " WHERE (state = ? AND command_expires < ?) OR (state = ? AND updated_at < ?)",
            (STARTING, overdue, PAID, overdue - self.settings.command_ttl_s),
        )
        for row in rows:
            payment = dict(zip(PAYMENT_COLUMNS, row, strict=True))
            if payment["command_id"] is not None:
                # An outcome the bridge missed (it was down when the ack came): the channel knows it.
                settled = _settled(self.channel.status(payment["pile"], payment["command_id"]))
                if settled is not None:
                    self._settle(payment, *settled)
                    continue
            self._refund(payment["payment_id"], payment["amount_fen"], PILE_UNREACHABLE, REFUNDED)

    def _settle_orders(self) -> None:
        """A started payment whose order came back (order key 16) ends: its ``returned`` fen, up to the
        payment's amount (coins added at the pile stay with the pile), is refunded."""
        rows = self._query(
            "SELECT p.payment_id, p.amount_fen, o.order_no, o.returned_fen, o.stop_reason FROM payments p"
            " JOIN orders o ON o.pile = p.pile AND o.payment_ref = p.payment_id WHERE p.state IN (?, ?)",
            (STARTING, STARTED),
        )
        for payment_id, amount_fen, order_no, returned_fen, stop_reason in rows:
            with self._transaction() as db:
                db.execute("UPDATE payments SET order_no = ? WHERE payment_id = ?", (order_no, payment_id))
            self._refund(payment_id, min(returned_fen, amount_fen), stop_reason, FINISHED)


def _settled(status: CommandStatus | None) -> tuple[str, int | None, str | None, Any] | None:
    """(state, result, detail, data) of a command the channel has settled; None while it is pending."""
    if status is None or status.state == PENDING:
        return None
    return status.state, status.result, status.detail, status.data
