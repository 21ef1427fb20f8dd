"""Fixtures for the bridge tests: a real mosquitto per test, a fresh database on SQLite and on PostgreSQL.

PostgreSQL: a database is created for the test run on the server named by ``BRIDGE_TEST_POSTGRES``
(default: the local server, user postgres, trust auth) and dropped afterwards; each test gets a schema
of its own in it. If the server cannot be reached, the PostgreSQL half of the tests is skipped.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import quote, urlsplit

import psycopg
import pytest

from cloud_bridge.db import Database
from cloud_bridge.ingest import Bridge
from cloud_bridge.mosquitto import Mosquitto
from tests.bridge.piles import Pile

PG_SERVER = os.environ.get("BRIDGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def pg_database():
    """The URL of a database made for this run; skips when the server is unreachable."""
    try:
        admin = psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip("PostgreSQL not reachable at %s (set BRIDGE_TEST_POSTGRES): %s" % (PG_SERVER, error))
    name = "bridge_test_%s" % uuid.uuid4().hex[:12]
    admin.execute('CREATE DATABASE "%s"' % name)
    try:
        yield urlsplit(PG_SERVER)._replace(path="/" + name).geturl()
    finally:
        admin.execute('DROP DATABASE "%s" WITH (FORCE)' % name)
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A database URL with no tables yet, once per backend."""
    if request.param == "sqlite":
        return "sqlite:///%s" % (tmp_path / "bridge.db")
    database = request.getfixturevalue("pg_database")
    schema = "t_%s" % uuid.uuid4().hex[:12]
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute('CREATE SCHEMA "%s"' % schema)
    return "%s?options=%s" % (database, quote("-csearch_path=%s" % schema))


@pytest.fixture
def db(db_url):
    """A connection of the test's own to the test database, with the tables."""
    database = Database(db_url)
    database.create_schema()
    yield database
    database.close()


@pytest.fixture
def broker():
    """A mosquitto of the test's own."""
    with Mosquitto() as running:
        yield running


@pytest.fixture
def start_bridge(broker, db):
    """Starts bridges on the test's broker and database; stops them at the end."""
    bridges = []

    def start(**options) -> Bridge:
        bridge = Bridge("127.0.0.1", broker.port, db_url=db.url, **options).start()
        bridges.append(bridge)
        return bridge

    yield start
    for bridge in bridges:
        bridge.stop()


@pytest.fixture
def pile(broker):
    """Connects piles to the test's broker: ``pile()``, ``pile("p2", boot=4)``."""
    piles = []

    def connect(name: str = "p1", boot: int = 1) -> Pile:
        piles.append(Pile(broker.port, name, boot))
        return piles[-1]

    yield connect
    for each in piles:
        each.close()
