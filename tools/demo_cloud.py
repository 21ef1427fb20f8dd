"""The demo's cloud: an embedded broker (amqtt, so ``make demo`` needs pip alone), the bridge with its
command channel, and the QR payment API with the sandbox provider.

Production and the tests use mosquitto with per-pile accounts (docs/broker.md);
the demo's broker lets anyone in, on a free local port, for as long as the demo runs.
The pile's command key is made afresh for each run: a key in the repository would be everyone's.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from cloud_bridge import pile_keys
from cloud_bridge.api_server import PaymentsApi, qr_url, start_payments_api
from cloud_bridge.channel import CommandChannel
from cloud_bridge.db import Database
from cloud_bridge.ingest import Bridge
from cloud_bridge.mosquitto import free_port

BROKER_START_S = 10.0
PILE = "DEMO-1"
PORTS = 10


class DemoCloud:
    """amqtt on its own thread and event loop, the bridge ingesting into SQLite in a temporary folder,
    and the payment API: on 127.0.0.1 (a free port) by default; given ``public_url`` (how phones reach
    this machine, ``http://<LAN address>:<port>``), on every interface at that URL's port.
    ``qr_lines``: what the API printed (the QR URL of each port), for the console to show."""

    def __init__(self, public_url: str | None = None) -> None:
        self.port = free_port()
        self.public_url = public_url
        self.key = secrets.token_hex(32)
        self._folder = tempfile.TemporaryDirectory(prefix="demo-cloud-")
        self.db_url = f"sqlite:///{Path(self._folder.name) / 'bridge.db'}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="demo-broker", daemon=True)
        self.bridge: Bridge | None = None
        self.channel: CommandChannel | None = None
        self.payments: PaymentsApi | None = None
        self.qr_lines: list[str] = []

    def start(self) -> DemoCloud:
        """Start the broker, wait for it, then the bridge, its channel and the payment API."""
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start_broker(config), self._loop).result(BROKER_START_S)
        db = Database(self.db_url)
        try:
            db.create_schema()
            pile_keys.add(db, PILE, self.key)
        finally:
            db.close()
        self._start_bridge()
        self.channel.start()
        host, port = ("127.0.0.1", 0) if self.public_url is None else ("0.0.0.0", urlsplit(self.public_url).port or 80)
        self.payments = start_payments_api(
            self.db_url,
            self.channel,
            host=host,
            port=port,
            piles={PILE: PORTS},
            public_url=self.public_url,
            show=self.qr_lines.append,
        )
        return self

    def _start_bridge(self) -> None:
        deadline = time.monotonic() + BROKER_START_S
        while True:
            self.bridge = Bridge("127.0.0.1", self.port, db_url=self.db_url)
            # Made before the bridge starts: the channel hears of births and answers from what it stores.
            self.channel = CommandChannel(self.bridge)
            try:
                self.bridge.start()
                return
            except ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    async def _start_broker(self, config: dict) -> None:
        from amqtt.broker import Broker

        # Made on its own loop: amqtt binds to the loop it is created on.
        self._broker = Broker(config)
        await self._broker.start()

    @property
    def qr_base(self) -> str:
        """The QR URL of a port, with ``<port>`` for its number (the API's own URL, so the two agree)."""
        assert self.payments is not None
        return qr_url(self.public_url or self.payments.url, PILE, 1).rsplit("/", 1)[0] + "/<port>"

    def account(self) -> dict:
        """The demo pile's account (the embedded broker takes any password) and command key."""
        return {"broker": ("127.0.0.1", self.port), "pile": PILE, "password": "demo", "key": self.key}

    def orders(self) -> list[dict]:
        """Orders the bridge has stored."""
        return self.bridge.orders() if self.bridge else []

    def payments_made(self) -> list[tuple[int, int, str]]:
        """(port, amount in fen, state) of each QR payment, oldest first."""
        if self.payments is None:
            return []
        select = "SELECT port, amount_fen, state FROM payments ORDER BY created_at"
        return [tuple(row) for row in self.payments.ledger.read(lambda db: db.query(select))]

    def stop(self) -> None:
        """Stop the payment API, the channel, the bridge and the broker."""
        if self.payments is not None:
            self.payments.stop()
        if self.channel is not None:
            self.channel.stop()
        if self.bridge is not None:
            self.bridge.stop()
        asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop).result(BROKER_START_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._folder.cleanup()
