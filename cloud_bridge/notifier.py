"""The alarm notifier: each round takes in the new alarm records and the piles' presence, updates the open
alarms, and sends the messages due through the SMS provider, recording each (docs/alarms.md).

The decisions are pure (``alarm_intake``, ``alarm_policy``); this is the shell around them: the clock,
the database and the provider. One notifier per database. A message is recorded after the provider took
it, so a crash between the two can send it twice, never lose it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cloud_bridge import alarm_ledger as ledger
from cloud_bridge.alarm_contacts import audience
from cloud_bridge.alarm_intake import Event, OpenAlarm, event_of, intake, offline_event
from cloud_bridge.alarm_kinds import IGNORE, OFFLINE
from cloud_bridge.alarm_policy import CAPPED, CLEAR, FAILED, PILE, SENT, Due, apply_cap, local_day, plan
from cloud_bridge.alarm_settings import NotifierSettings
from cloud_bridge.alarm_tables import create_alarm_tables
from cloud_bridge.alarm_text import compose
from cloud_bridge.db import Database
from cloud_bridge.sms.provider import ProviderError, SmsProvider
from cloud_bridge.sms.webhook import WebhookProvider

log = logging.getLogger(__name__)


@dataclass
class Round:
    """What one round did: alarm records taken in, and messages by what became of them."""

    taken: int = 0
    sent: int = 0
    failed: int = 0
    capped: int = 0
    by_pile: int = 0


class Notifier:
    """``Notifier(db, provider, settings).round()`` once, or ``run(stop)`` every ``settings.every_s``."""

    def __init__(
        self,
        db: Database,
        provider: SmsProvider,
        settings: NotifierSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db, self.provider, self.settings, self.clock = db, provider, settings, clock
        create_alarm_tables(db)

    def run(self, stop: threading.Event) -> None:
        """Rounds until ``stop`` is set; a database that is away is waited for."""
        while not stop.is_set():
            try:
                self.round()
            except Database.TRANSIENT_ERRORS as error:
                log.warning("database unavailable (%s); trying again next round", error)
                self.db.reconnect()
            stop.wait(self.settings.every_s)

    def round(self) -> Round:
        """Take in what is new, then send what is due."""
        now = self.clock()
        done = Round(taken=self._take_in(now))
        if self.settings.class_of(OFFLINE) != IGNORE:
            self._watch_presence(now)
        self._notify(now, done)
        return done

    def _take_in(self, now: float) -> int:
        """Apply each new alarm record to its open alarm, in each pile's order; how many there were."""
        records = ledger.unread_records(self.db, now, self.settings.backlog_s)
        for record in records:
            event = event_of(
                record["pile"], record["alarm"], record["port"], record["state"], record["t"], record["received_at"]
            )
            with self.db.transaction():
                if event is not None and self.settings.class_of(event.alarm) != IGNORE:
                    self._apply(event)
                ledger.mark_read(self.db, record, now)
        return len(records)

    def _apply(self, event: Event) -> None:
        alarm = ledger.current(self.db, event.pile, event.port, event.alarm)
        change = intake(alarm, event)
        log.info("%s %s port %d: %s", event.pile, event.alarm, event.port, change)
        ledger.apply(self.db, change, event, alarm, self.settings.class_of(event.alarm))

    def _watch_presence(self, now: float) -> None:
        """Raise or clear each pile's ``offline`` alarm from its latest presence."""
        for pile, online, since in ledger.latest_presence(self.db):
            alarm = ledger.current(self.db, pile, 0, OFFLINE)
            event = offline_event(pile, online, since, alarm, now, self.settings)
            if event is not None:
                with self.db.transaction():
                    self._apply(event)

    def _notify(self, now: float, done: Round) -> None:
        """Send each open alarm's due messages, within the daily cap; close the alarms that are over."""
        day = local_day(now, self.settings)
        sent_today = ledger.sent_since(self.db, day * 86400.0 - self.settings.utc_offset_min * 60)
        for alarm in ledger.open_alarms(self.db):
            site, label, contacts = audience(self.db, alarm.pile, alarm.klass)
            covered: frozenset[str] = frozenset()
            if alarm.alarm in self.settings.pile_texts:
                covered = ledger.covered(self.db, alarm, self.settings.pile_sms_grace_s)
            due = plan(alarm, contacts, ledger.history(self.db, alarm.id), covered, now, self.settings)
            if due.close:
                with self.db.transaction():
                    ledger.close(self.db, alarm.id, now)
                log.info("alarm %d (%s %s port %d) closed", alarm.id, alarm.pile, alarm.alarm, alarm.port)
                continue
            for message, allowed in apply_cap(due.messages, sent_today, self.settings):
                self._deliver(alarm, site, label, message, allowed, now, done)

    def _deliver(
        self, alarm: OpenAlarm, site: str, label: str, due: Due, allowed: bool, now: float, done: Round
    ) -> None:
        """Send one message (or record it as the pile's, or as capped) and record what became of it."""
        number = due.contact.number
        if due.by_pile:
            ledger.record(self.db, alarm.id, due, PILE, "pile", "", now)
            done.by_pile += 1
            return
        at = alarm.cleared_at if due.kind == CLEAR and alarm.cleared_at is not None else (alarm.t or alarm.opened_at)
        text = compose(
            due.kind, site, label, alarm.port, alarm.alarm, at, ledger.suppressed(self.db, number), self.settings
        )
        if not allowed:
            log.warning("daily cap: %s %s to %s of alarm %d held back", due.kind, alarm.alarm, number, alarm.id)
            ledger.record(self.db, alarm.id, due, CAPPED, self.provider.name, text, now, "daily cap")
            done.capped += 1
            return
        try:
            if isinstance(self.provider, WebhookProvider):  # the one provider whose far end takes the alarm's id
                message_id = self.provider.send(number, text, alarm_id=alarm.id)
            else:
                message_id = self.provider.send(number, text)
        except ProviderError as error:
            log.warning("%s of alarm %d to %s failed: %s", due.kind, alarm.id, number, error)
            ledger.record(self.db, alarm.id, due, FAILED, self.provider.name, text, now, str(error))
            done.failed += 1
            return
        log.info("%s of alarm %d sent to %s (%s)", due.kind, alarm.id, number, message_id)
        ledger.record(self.db, alarm.id, due, SENT, self.provider.name, text, now, message_id)
        done.sent += 1
