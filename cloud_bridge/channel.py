"""The command channel: signed commands to piles over the bridge's MQTT client, and their outcomes.

Wiring, in the bridge's process::

    bridge = Bridge(host, port, user, password, db_url)
    channel = CommandChannel(bridge)            # before bridge.start(): it listens to what is stored
    channel.on_outcome(callback)                # any number of callbacks
    bridge.start(); channel.start()
    command_id = channel.send("p1", "start", {"port": 3, "credit": 200, "reference": "pay-42"}, ttl_s=60)
    channel.status("p1", command_id)            # -> commands.Command (state, result, detail, data, ...)
    version, command_id = channel.configure("p1", {"PRICE_FEN": 120})
    channel.stop(); bridge.stop()

The API (stable; the HTTP API builds on it):

- ``send(pile, kind, args, ttl_s=DEFAULT_TTL_S) -> int``: kinds and args in ``commands.KINDS`` (start:
  port, credit, reference; stop: port; query, reboot, time: none; cards: block, unblock, lists of card
  UIDs, and settled, [UID, order no] pairs, which ``card_status`` makes with the blacklist and
  ``card_asks`` with the desk's unlocks); ``config`` goes through ``configure``. The command is committed
  before it is published (QoS 1 to ``pile/<pile>/down/cmd``); raises ``pile_keys.UnknownPile`` (no key
  for the pile) or ``ValueError`` (bad arguments).
- ``configure(pile, settings, ttl_s=CONFIG_TTL_S) -> (version, command id or None)``: a new desired
  config version (``config_shadow``) and the command carrying what the pile lacks of it.
- ``status(pile, command_id) -> commands.Command | None``.
- ``on_outcome(callback)``: ``callback(pile, id, kind, state, result, detail, data)`` on the channel's
  thread, once per command, when it leaves ``pending``: state ``done``, ``refused`` or ``expired``;
  ``result`` the pile's code (None when it never answered: expired ``never acked``, ``grace_s`` after
  the command's expiry), ``detail`` its text, ``data`` its answer data decoded from CBOR (start, stop:
  the order no; cards: the blocked count and the pile's answer to each settled pair). A callback must not
  block for long; an exception in it is logged. An outcome decided while no channel ran (or just before a
  crash) is handed over at the next ``start``, so a callback may see an outcome again after a crash, never
  twice in one run.

Commands made by another process (``cloud-bridge command ...``) are committed there unsent; the channel
publishes them within ``sweep_s``. When a pile's birth is stored, its pending unexpired commands are
published again (same bytes, same id: a pile answers a command it has seen with its first answer), and
if it runs an older config version than desired, the difference is sent (``config_shadow.catch_up``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from cloud_bridge import commands, config_shadow, pile_keys
from cloud_bridge.db import Database
from cloud_bridge.ingest import Bridge
from cloud_bridge.schema import Ack, Birth, decode

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 300
# An answer may still be on its way (the pile's one message in flight, the broker's queue) when the
# expiry passes: the bridge waits this long past it before calling the command never acked.
EXPIRY_GRACE_S = 60.0
SWEEP_S = 1.0

Outcome = Callable[[str, int, str, str, int | None, str | None, Any], None]


class CommandChannel:
    """Sends signed commands through ``bridge`` and reports their outcomes (module docstring)."""

    def __init__(self, bridge: Bridge, *, grace_s: float = EXPIRY_GRACE_S, sweep_s: float = SWEEP_S) -> None:
        self.grace_s, self.sweep_s = grace_s, sweep_s
        self._bridge = bridge
        self._callbacks: list[Outcome] = []
        self._events: queue.SimpleQueue[Ack | Birth | None] = queue.SimpleQueue()  # None: stop
        self._local = threading.local()  # a Database per thread: connections are not shared
        self._databases: list[Database] = []
        self._databases_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="bridge-commands", daemon=True)
        bridge.listen(self._stored)

    def on_outcome(self, callback: Outcome) -> None:
        """Call ``callback(pile, id, kind, state, result, detail, data)`` for each settled command."""
        self._callbacks.append(callback)

    def start(self) -> CommandChannel:
        """Start the channel's thread (after ``bridge.start()``, which makes the tables)."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and close the channel's database connections."""
        if self._thread.is_alive():
            self._events.put(None)
            self._thread.join(10)
        with self._databases_lock:
            for db in self._databases:
                db.close()
            self._databases.clear()

    def send(self, pile: str, kind: str, args: dict, ttl_s: int = DEFAULT_TTL_S) -> int:
        """Commit, sign and publish a command; its id."""
        if kind == "config":
            raise ValueError("config goes through configure(), which keeps the shadow's versions")
        db = self._db()
        command, envelope = commands.create(db, pile, kind, args, ttl_s)
        self._publish(db, pile, command.id, envelope)
        return command.id

    def configure(self, pile: str, settings: dict, ttl_s: int = config_shadow.CONFIG_TTL_S) -> tuple[int, int | None]:
        """Make ``settings`` part of ``pile``'s desired config; (new version, id of the command sending it)."""
        db = self._db()
        pile_keys.key(db, pile)  # an unknown pile gets no desired config
        now = time.time()
        version = config_shadow.set_desired(db, pile, settings, now)
        made = config_shadow.catch_up(db, pile, now, ttl_s)
        if made is None:
            return version, None
        self._publish(db, pile, made[0].id, made[1])
        return version, made[0].id

    def status(self, pile: str, command_id: int) -> commands.Command | None:
        """The command as it stands, or None."""
        return commands.get(self._db(), pile, command_id)

    def _db(self) -> Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = Database(self._bridge.db_url)
            with self._databases_lock:
                self._databases.append(db)
        return db

    def _publish(self, db: Database, pile: str, command_id: int, envelope: bytes) -> None:
        """Publish a committed command; one not taken (no connection) is left to the sweep."""
        if self._bridge.publish("pile/%s/down/cmd" % pile, envelope):
            commands.mark_sent(db, pile, command_id, time.time())
            log.info("pile %s: command %d sent", pile, command_id)

    def _stored(self, messages: list[tuple[str, bytes]]) -> None:
        """On the writer thread, after a commit: pass births and answers on to the channel's thread."""
        for topic, payload in messages:
            if topic.endswith(("/up/ack", "/up/birth")):
                message = decode(topic, payload)
                if isinstance(message, Ack | Birth):
                    self._events.put(message)

    def _run(self) -> None:
        backlog: list[Ack | Birth] = []
        first = True
        while True:
            events, stopping = self._next_events()
            backlog += events
            try:
                db = self._db()
                if first:
                    self._report_unreported(db)
                    first = False
                self._tick(db, backlog)
                backlog = []
            except Database.ERRORS as error:
                log.warning("commands: database error, trying again in %.1f s: %s", self.sweep_s, error)
                self._db().reconnect()
            except Exception:
                log.exception("commands: failed on %d events; dropped", len(backlog))
                backlog = []
            if stopping:
                return

    def _next_events(self) -> tuple[list[Ack | Birth], bool]:
        """What came within ``sweep_s`` (at once when something is there), and whether to stop."""
        events = []
        try:
            event = self._events.get(timeout=self.sweep_s)
            while True:
                if event is None:
                    return events, True
                events.append(event)
                event = self._events.get_nowait()
        except queue.Empty:
            return events, False

    def _tick(self, db: Database, events: list[Ack | Birth]) -> None:
        now = time.time()
        answered = {(pile, command_id) for pile, command_id in commands.answered_pending(db)}
        for event in events:
            if isinstance(event, Birth):
                self._birth(db, event, now)
            elif event.command_id == 0:
                log.warning("pile %s could not read a command: %s", event.pile, event.detail)
            else:
                answered.add((event.pile, event.command_id))
        for pile, command_id in sorted(answered):
            self._settle(db, pile, command_id, now)
        for command in commands.expire_overdue(db, now, self.grace_s):
            log.warning("pile %s: command %d (%s) never acked", command.pile, command.id, command.kind)
            self._report(db, command)
        if self._bridge.connected:
            for pile, command_id, envelope in commands.envelopes(db, None, now, unsent_only=True):
                self._publish(db, pile, command_id, envelope)

    def _settle(self, db: Database, pile: str, command_id: int, now: float) -> None:
        what, command = commands.settle(db, pile, command_id, now)
        if what == "settled":
            log.info("pile %s: command %d %s (%s)", pile, command_id, command.state, command.result_name)
            config_shadow.report_from_ack(db, command, now)
            self._report(db, command)
        elif what == "late":
            log.warning(
                "anomaly: pile %s answered command %d (%s) after it was reported expired: %s %r",
                pile,
                command_id,
                command.kind,
                command.result_name,
                command.detail,
            )
        elif what == "unknown":
            log.warning("pile %s answered command %d, which the bridge never made", pile, command_id)

    def _birth(self, db: Database, birth: Birth, now: float) -> None:
        """A pile (re)connected: resend what it has not answered, and bring its config up to date."""
        try:
            pile_keys.key(db, birth.pile)
        except pile_keys.UnknownPile:
            log.warning("birth of pile %s, which has no key here: no commands for it", birth.pile)
            return
        config_shadow.report_applied(db, birth.pile, birth.config_version, birth.boot, birth.seq, now)
        for pile, command_id, envelope in commands.envelopes(db, birth.pile, now, unsent_only=False):
            self._publish(db, pile, command_id, envelope)
        made = config_shadow.catch_up(db, birth.pile, now)
        if made is not None:
            log.info(
                "pile %s runs config %d: sending version %d", birth.pile, birth.config_version, made[0].args["version"]
            )
            self._publish(db, birth.pile, made[0].id, made[1])

    def _report(self, db: Database, command: commands.Command) -> None:
        """Hand an outcome to the callbacks, then note that it was."""
        for callback in self._callbacks:
            try:
                callback(
                    command.pile, command.id, command.kind, command.state, command.result, command.detail, command.data
                )
            except Exception:
                log.exception("outcome callback failed on pile %s command %d", command.pile, command.id)
        commands.mark_reported(db, command.pile, command.id, time.time())

    def _report_unreported(self, db: Database) -> None:
        for command in commands.unreported(db):
            self._report(db, command)
