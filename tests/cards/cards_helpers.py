"""What happens to a card away from the desk, done as the pile and the bridge (its ingest, its command channel)
do it."""

from __future__ import annotations

import copy
import hashlib
import hmac
import threading
import time

import cbor2

from boards.sim.world.cards import newest_slot
from boards.sim.world.mfrc522 import Mfrc522
from boards.sim.world.mifare import ClassicCard
from cloud_bridge import commands
from cloud_bridge.db import Database
from cloud_bridge.schema import decode
from cloud_bridge.store import Store
from firmware.card.record import CardRecord, pile_tag
from tests.bridge.piles import T0, order_body
from tools.card_image import slot_image


def pile_writes(site_key: bytes, card: ClassicCard, change) -> CardRecord:
    """Write onto ``card`` what the pile writes: its newest record changed by ``change(record)``, counter one
    higher, into the other slot. The record written."""
    slot, record = newest_slot(site_key, card)
    after = copy.copy(record)
    change(after)
    after.counter += 1
    for number, data in slot_image(site_key, card.uid, after, 1 - slot).items():
        card.write(number, data)
    return after


def session_started(site_key: bytes, card: ClassicCard, pile: str, port: int, held_fen: int, order_no: int):
    """A prepaid session started at ``pile``: ``held_fen`` taken off the balance and the card marked."""

    def start(record: CardRecord) -> None:
        record.balance_fen -= held_fen
        record.session_pile = pile_tag(pile)
        record.session_port = port
        record.held_fen = held_fen
        record.session_order = order_no

    return pile_writes(site_key, card, start)


def order_arrives(
    db: Database, pile: str, order_no: int, uid: str, port: int, paid: int, used: int, seq: int = 1, method="card"
):
    """The pile's order of a card session, decoded and stored by the bridge's own ingest."""
    body = {0: 1, 1: seq, 2: T0 + seq, **order_body(order_no, port, paid, used), 5: method, 16: uid}
    Store(db).write([(decode("pile/%s/up/order" % pile, cbor2.dumps(body)), time.time())])


def put_back_when_pulled(chip: Mfrc522, card: ClassicCard, after_s: float = 0.2) -> threading.Thread:
    """Present ``card`` again ``after_s`` after it left the field (as the operator puts it back)."""

    def watch() -> None:
        deadline = time.monotonic() + 10
        while chip.card is not None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(after_s)
        chip.present(card)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def pile_sees(key: bytes, pile: str, envelope: bytes) -> dict:
    """The command body as the pile takes it: the MAC checked with Python's hmac, apart from the bridge."""
    body, mac = cbor2.loads(envelope)
    assert hmac.compare_digest(mac, hmac.new(key, pile.encode() + b"\n" + body, hashlib.sha256).digest()[:16])
    return cbor2.loads(body)


def sent_bodies(db: Database, piles: dict[str, bytes]) -> dict[str, list[dict]]:
    """Every cards command made, per pile, as the pile reads it."""
    rows = db.query("SELECT pile, envelope FROM commands WHERE kind = 'cards' ORDER BY pile, id")
    bodies: dict[str, list[dict]] = {pile: [] for pile in piles}
    for pile, envelope in rows:
        bodies[pile].append(pile_sees(piles[pile], pile, bytes(envelope)))
    return bodies


def pile_answered(db: Database, pile: str, command_id: int, data, result: int = 0, detail: str = "") -> str:
    """The pile's answer to a command (``data`` None: none, as a refusal has) taken in as the running bridge
    takes it: the ack stored by the ingest's ``Store``, then ``commands.settle``, which the command channel
    calls on it. What ``settle`` says."""
    ((seq,),) = db.query("SELECT coalesce(max(seq), 0) + 1 FROM records WHERE pile = ? AND boot = 1", (pile,))
    body = {0: 1, 1: seq, 2: T0 + seq, 3: command_id, 4: result, 5: detail}
    if data is not None:
        body[6] = data
    Store(db).write([(decode("pile/%s/up/ack" % pile, cbor2.dumps(body)), time.time())])
    return commands.settle(db, pile, command_id, time.time())[0]


def pile_answers_when_asked(db_url: str, pile: str, key: bytes, data, result: int = 0, detail: str = ""):
    """A thread answering the first pending ``cards`` command of ``pile`` (``pile_answered``) once the desk
    has made it, as the pile answers while the desk waits; the command is read as the pile reads it."""

    def answer() -> None:
        db = Database(db_url)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                rows = db.query(
                    "SELECT id, envelope FROM commands WHERE pile = ? AND kind = 'cards' AND state = 'pending'"
                    " ORDER BY id",
                    (pile,),
                )
                if rows:
                    pile_sees(key, pile, bytes(rows[0][1]))
                    pile_answered(db, pile, rows[0][0], data, result, detail)
                    return
                time.sleep(0.01)
        finally:
            db.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return thread
