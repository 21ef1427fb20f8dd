"""Fixtures of the payment flow tests: a fresh database (SQLite and PostgreSQL, as the bridge tests do), a
real bridge and command channel on a mosquitto shared by the session, the fake pile of the bridge tests
answering the commands (tests/bridge/command_pile.py) and publishing the pile's records, the sandbox
provider, the ledger and the HTTP API."""

from __future__ import annotations

import secrets
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass

import pytest

from cloud_bridge import pile_keys
from cloud_bridge.api import create_app
from cloud_bridge.api_server import ApiServer
from cloud_bridge.channel import CommandChannel
from cloud_bridge.ingest import Bridge
from cloud_bridge.mosquitto import Mosquitto
from cloud_bridge.payment_settings import PaymentSettings
from cloud_bridge.payments import PaymentLedger
from cloud_bridge.providers.sandbox import SandboxProvider
from tests.bridge import conftest as bridge_fixtures
from tests.bridge.command_pile import CommandPile
from tests.payments.pile_records import PileRecords

# The bridge tests' databases: a fresh one per test, on SQLite and on PostgreSQL.
pg_database = bridge_fixtures.pg_database
db_url = bridge_fixtures.db_url
db = bridge_fixtures.db

# Short timings, so that an expiry is seconds away: the ledger waits as long past a start's expiry as the
# channel does (GRACE_S), so that the channel's verdict comes first, as in production.
GRACE_S = 0.5
SWEEP_S = 0.05
SETTINGS = PaymentSettings(amounts_fen=(100, 200, 300, 500), command_ttl_s=2, expiry_grace_s=GRACE_S, sweep_s=0.1)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the test looks at the redirect itself


_opener = urllib.request.build_opener(_NoRedirect)


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


def http(url: str, data: bytes | None = None, headers: dict | None = None) -> Answer:
    """GET (or POST ``data``) without following redirects."""
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with _opener.open(request, timeout=10) as answer:
            return Answer(answer.status, dict(answer.headers), answer.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers), error.read())


@dataclass
class Flow:
    """One payment flow under test; ``pile`` is the fake pile, which answers no command unless told to."""

    records: PileRecords
    pile: CommandPile
    channel: CommandChannel
    sandbox: SandboxProvider
    ledger: PaymentLedger
    server: ApiServer

    def url(self, path: str) -> str:
        return self.server.url + path

    def get(self, path: str) -> Answer:
        return http(self.url(path))

    def post_form(self, path: str, **fields) -> Answer:
        return http(self.url(path), urllib.parse.urlencode(fields).encode())

    def checkout(self, port: int = 3, amount_fen: int = 200, checkout: str = "ab" * 16) -> str:
        """Check out at the port page; the payment id (the sandbox payment's reference)."""
        answer = self.post_form("/p/p1/%d/checkout" % port, amount_fen=amount_fen, checkout=checkout)
        assert answer.status == 303, answer.text
        tx = answer.headers["location"].rsplit("/", 1)[1]
        return self.sandbox.payment(tx).reference

    def pay(self, payment_id: str) -> str:
        """The resident presses "Pay" at the sandbox; the sandbox payment id."""
        tx = self.ledger.payment(payment_id)["provider_tx"]
        answer = self.post_form("/sandbox/pay/%s/pay" % tx)
        assert answer.status == 303 and answer.headers["location"].endswith("/payments/" + payment_id)
        return tx


@pytest.fixture(scope="session")
def broker():
    """One mosquitto for the session's payment tests."""
    with Mosquitto() as running:
        yield running


@pytest.fixture
def bridge(broker, db):
    """A bridge on the test's database. Its client id is the test's own: the broker keeps each bridge's
    session, which must not carry one test's messages into the next."""
    bridge = Bridge("127.0.0.1", broker.port, db_url=db.url, client_id="bridge-" + uuid.uuid4().hex, batch_ms=5)
    yield bridge.start()
    bridge.stop()


@pytest.fixture
def channel(bridge):
    """The bridge's command channel, running (short grace)."""
    channel = CommandChannel(bridge, grace_s=GRACE_S, sweep_s=SWEEP_S).start()
    yield channel
    channel.stop()


@pytest.fixture
def pile(broker, db):
    """Pile p1, its key known to the bridge; it takes commands and answers none until told to."""
    key = secrets.token_bytes(32)
    pile_keys.add(db, "p1", key.hex())
    pile = CommandPile(broker.port, "p1", key)
    pile.answering = False
    yield pile
    pile.close()


@pytest.fixture
def records(pile, db, bridge):
    """Pile p1 (10 ports) online, all ports idle."""
    records = PileRecords(pile, db)
    records.online()
    return records


@pytest.fixture
def make_flow(db_url, records, channel):
    """``make_flow(settings=..., clock=..., sweeper=True, channel=..., sandbox=...)``: a running flow, on
    the test's channel unless ``channel`` is given."""
    flows = []

    def make(settings=SETTINGS, clock=None, sweeper=True, channel=channel, sandbox=None) -> Flow:
        sandbox = sandbox or SandboxProvider()
        options = {} if clock is None else {"clock": clock}
        ledger = PaymentLedger(db_url, channel, sandbox, settings, **options)
        if sweeper:
            ledger.start()
        server = ApiServer(create_app(ledger)).start()
        flows.append(Flow(records, records.pile, channel, sandbox, ledger, server))
        return flows[-1]

    yield make
    channel.stop()  # first: no outcome reaches a stopped ledger
    for flow in flows:
        flow.server.stop()
        flow.ledger.stop()
