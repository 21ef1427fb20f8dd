"""The cloud side of a HIL test: a mosquitto with per-pile accounts and ACL, the bridge and its command
channel, and (on request) the QR payment API with the sandbox provider."""

from __future__ import annotations

import time
from pathlib import Path

from cloud_bridge import pile_keys
from cloud_bridge.api_server import PaymentsApi, start_payments_api
from cloud_bridge.channel import CommandChannel
from cloud_bridge.db import Database
from cloud_bridge.ingest import Bridge
from cloud_bridge.mosquitto import Mosquitto, free_port
from cloud_bridge.payment_settings import PaymentSettings
from tools.broker_accounts import broker_config, create_site
from tools.tls_certs import make_ca_and_server, tls_listener

PILES = ("PILE-A", "PILE-B")
# Past a command's expiry the bridge waits this long for a late answer before refunding (short for tests).
GRACE_S = 3.0


class Cloud:
    """Broker and bridge for piles ``PILES``; the bridge stores into SQLite under ``folder``."""

    def __init__(self, folder: Path, tls: bool = False) -> None:
        self.folder = folder
        port = free_port()
        self.site = create_site(folder / "broker", list(PILES))
        (folder / "persistence").mkdir()
        conf = broker_config(folder / "broker", port, folder / "persistence")
        self.tls_port = 0
        self.certs: dict[str, Path] = {}
        if tls:
            # A second listener with a CA made for this run; the same accounts and ACL apply to it.
            self.certs = make_ca_and_server(folder / "tls")
            self.tls_port = free_port()
            conf.write_text(conf.read_text() + tls_listener(self.tls_port, self.certs))
        self.broker = Mosquitto(config_file=conf, port=port).start()
        self.db_url = f"sqlite:///{folder / 'bridge.db'}"
        db = self.bridge_db()
        db.create_schema()
        for pile, credentials in self.site["piles"].items():
            pile_keys.add(db, pile, credentials["key"])
        db.close()
        self.bridge: Bridge | None = None
        self.channel: CommandChannel | None = None
        self.outcomes: list[tuple] = []
        self.payments: PaymentsApi | None = None
        self.start_bridge()

    def start_bridge(self) -> None:
        """Start (or restart) the bridge on its persistent session, with its command channel."""
        bridge = self.site["bridge"]
        self.bridge = Bridge("127.0.0.1", self.broker.port, bridge["user"], bridge["password"], self.db_url)
        self.channel = CommandChannel(self.bridge, grace_s=GRACE_S)
        self.channel.on_outcome(lambda *outcome: self.outcomes.append(outcome))
        self.bridge.start()
        self.channel.start()

    def stop_bridge(self) -> None:
        """Stop the bridge; the broker keeps its messages meanwhile."""
        if self.channel is not None:
            self.channel.stop()
            self.channel = None
        if self.bridge is not None:
            self.bridge.stop()
            self.bridge = None

    def start_payments(self, **settings) -> PaymentsApi:
        """The QR payment API with the sandbox provider, sending starts through the channel;
        ``settings`` override PaymentSettings (the grace defaults to the channel's here)."""
        assert self.channel is not None
        settings.setdefault("expiry_grace_s", GRACE_S)
        self.payments = start_payments_api(self.db_url, self.channel, settings=PaymentSettings(**settings), show=None)
        return self.payments

    def send(self, pile: str, kind: str, ttl_s: int = 60, **args) -> int:
        """Sign and send a command to ``pile``; returns its id."""
        assert self.channel is not None
        return self.channel.send(pile, kind, args, ttl_s)

    def wait_command(self, pile: str, command_id: int, timeout_s: float):
        """The command once it has left ``pending`` (answered, or expired unanswered)."""
        assert self.channel is not None
        deadline = time.monotonic() + timeout_s
        while True:
            command = self.channel.status(pile, command_id)
            if command is not None and command.state != "pending":
                return command
            assert time.monotonic() < deadline, f"command {command_id} still pending: {command}"
            time.sleep(0.1)

    def account(self, pile: str, ca: Path | None = None) -> dict:
        """What the virtual pile is provisioned with to reach this broker as ``pile``; with ``ca``
        (a DER certificate) over the TLS listener, trusting only that CA."""
        account = {
            "broker": ("127.0.0.1", self.broker.port),
            "pile": pile,
            "password": self.site["piles"][pile]["password"],
            "key": self.site["piles"][pile]["key"],
        }
        if ca is not None:
            account.update(broker=("127.0.0.1", self.tls_port), ca=ca)
        return account

    def bridge_db(self) -> Database:
        """A connection of the test's own to the bridge's database (close it after use)."""
        return Database(self.db_url)

    def orders(self, pile: str) -> list[dict]:
        """Orders of ``pile`` in the bridge's database."""
        assert self.bridge is not None
        return self.bridge.orders(pile)

    def wait_orders(self, pile: str, count: int, timeout_s: float) -> list[dict]:
        """Wait until the bridge holds ``count`` orders of ``pile``; fails if more or never."""
        deadline = time.monotonic() + timeout_s
        while True:
            orders = self.orders(pile)
            assert len(orders) <= count, f"more orders than sessions: {orders}"
            if len(orders) == count:
                return orders
            assert time.monotonic() < deadline, f"{len(orders)} of {count} orders in the bridge: {orders}"
            time.sleep(0.2)

    def close(self) -> None:
        """Stop everything."""
        if self.payments is not None:
            self.payments.stop()
        self.stop_bridge()
        self.broker.stop()
