"""Fixtures of the desk tests: a fresh bridge database (SQLite and PostgreSQL, as the bridge tests make
them), piles the bridge holds keys for, and the desk reader: the emulated MFRC522 served on a real pty
(boards/sim/world/spi_link.py), which ``pilectl card`` opens with pyserial as it opens the USB-serial
bridge of a real desk."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest

from boards.sim.world.cards import new_site_key
from boards.sim.world.mfrc522 import Mfrc522
from boards.sim.world.spi_link import SpiLink
from cloud_bridge import pile_keys
from cloud_bridge.card_tables import create_card_tables
from cloud_bridge.db import Database
from tests.bridge import conftest as bridge_fixtures
from tools import pilectl

pg_database = bridge_fixtures.pg_database
db_url = bridge_fixtures.db_url

PILES = ("p1", "p2")
OPERATOR = "desk-anna"
READER_COMMANDS = ("issue", "topup", "read", "unlock", "refund")


@pytest.fixture
def db(db_url):
    """A connection of the test's own to the test database, with the bridge's and the card tables."""
    database = Database(db_url)
    create_card_tables(database)
    yield database
    database.close()


@pytest.fixture
def piles(db) -> dict[str, bytes]:
    """Two piles the bridge holds command keys for: {pile: key}."""
    keys = {pile: secrets.token_bytes(32) for pile in PILES}
    for pile, key in keys.items():
        pile_keys.add(db, pile, key.hex())
    return keys


@dataclass
class DeskRig:
    """The desk: its reader chip (present and remove cards on it), the site key and its file, the database."""

    chip: Mfrc522
    port: str
    site_key: bytes
    site_key_file: Path
    db: Database
    capsys: pytest.CaptureFixture

    def run(
        self, command: str, *args: str, wait_s: float = 2.0, site_key_file: Path | None = None, port: str | None = None
    ) -> tuple[int, dict]:
        """``pilectl card COMMAND ARGS`` with the desk's options (``site_key_file`` and ``port`` to use others):
        (exit status, the JSON it printed)."""
        options = ["--db", self.db.url, "--operator", OPERATOR]
        if command in READER_COMMANDS:
            key_file = site_key_file or self.site_key_file
            options += ["--port", port or self.port, "--site-key", str(key_file), "--wait", str(wait_s)]
        status = pilectl.main(["card", command, *args, *options])
        return status, json.loads(self.capsys.readouterr().out)


@pytest.fixture
def desk(db, tmp_path, capsys):
    """The desk reader on a pty, a site key made for this test in a file of its own."""
    chip = Mfrc522()
    link = SpiLink(chip)
    link.start()
    site_key = new_site_key()
    key_file = tmp_path / "site.key"
    key_file.write_text(site_key.hex() + "\n")
    yield DeskRig(chip, link.device_path, site_key, key_file, db, capsys)
    link.close()
