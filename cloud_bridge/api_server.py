"""Serving the HTTP API: uvicorn in a thread of its own (tests, the demo), and the QR URL of each port."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from cloud_bridge.api import create_app
from cloud_bridge.db import Database
from cloud_bridge.payment_channel import CommandChannel
from cloud_bridge.payment_settings import PaymentSettings
from cloud_bridge.payments import PaymentLedger
from cloud_bridge.port_state import known_piles
from cloud_bridge.providers.provider import PaymentProvider
from cloud_bridge.providers.sandbox import SandboxProvider

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


def qr_url(base: str, pile: str, port: int) -> str:
    """The URL a port's QR code holds: ``http://<host>:<port>/p/<pile>/<port>``."""
    return "%s/p/%s/%d" % (base.rstrip("/"), pile, port)


class ApiServer:
    """``app`` served by uvicorn on ``host`` (port 0: a free one) in a thread: ``start()``, ``url``, ``stop()``."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self._socket = socket.create_server((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        self.url = "http://%s:%d" % (self.host, self.port)
        # No signal handlers: in a thread they are not uvicorn's to take; the owner stops it.
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)

    def start(self) -> ApiServer:
        """Serve; return once it accepts connections (raise ``RuntimeError`` if it does not in time)."""
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._server.started:
            self.stop()
            raise RuntimeError("the HTTP API did not start on %s" % self.url)
        return self

    def stop(self) -> None:
        """Finish the requests under way, then stop serving."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT_S)
        self._socket.close()


@dataclass
class PaymentsApi:
    """The running payment flow: its ledger, provider and server; ``stop()`` ends them."""

    ledger: PaymentLedger
    provider: PaymentProvider
    server: ApiServer

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        """Stop serving, then stop the ledger's sweeper."""
        self.server.stop()
        self.ledger.stop()


def start_payments_api(
    db_url: str,
    channel: CommandChannel,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    provider: PaymentProvider | None = None,
    settings: PaymentSettings | None = None,
    piles: dict[str, int] | None = None,
    public_url: str | None = None,
    show: Callable[[str], None] | None = print,
) -> PaymentsApi:
    """Start the QR payment flow next to a bridge (the demo's one call): the ledger on ``db_url`` sending
    starts through ``channel``, the provider (the sandbox by default), and the HTTP API on ``host:port``.
    ``show`` gets the QR URL of every port of ``piles`` ({pile: port count}; by default the piles the
    database has heard from), under ``public_url`` (how phones reach this machine; by default the address
    served on)."""
    provider = provider or SandboxProvider()
    ledger = PaymentLedger(db_url, channel, provider, settings or PaymentSettings.from_env()).start()
    try:
        server = ApiServer(create_app(ledger, public_url), host, port).start()
    except BaseException:
        ledger.stop()
        raise
    if show is not None:
        if piles is None:
            db = Database(db_url)
            try:
                piles = known_piles(db)
            finally:
                db.close()
        base = public_url or server.url
        show("QR payment pages at %s" % base)
        for pile, ports in sorted(piles.items()):
            for number in range(1, ports + 1):
                show("  %s port %2d: %s" % (pile, number, qr_url(base, pile, number)))
    return PaymentsApi(ledger, provider, server)
