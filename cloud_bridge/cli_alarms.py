"""``cloud-bridge`` commands of the alarm notifier (docs/alarms.md).

    cloud-bridge notify [--provider URL] [--secret-file F] [--settings F] [--once | --every S]
    cloud-bridge sites set PILE --site NAME [--label 3号桩]
    cloud-bridge sites list [--json]
    cloud-bridge contacts add SITE --name NAME --number N [--class critical|normal|all] [--level 1|2]
    cloud-bridge contacts list [--site SITE] [--json]
    cloud-bridge contacts remove ID
    cloud-bridge alarms [--all] [--json]
    cloud-bridge alarms ack ID --by NAME
    cloud-bridge alarms history [ID] [--json]

The provider comes from ``--provider`` or ``SMS_PROVIDER`` (which keeps an SMPP password off the command
line), the webhook's secret from ``--secret-file`` or ``SMS_WEBHOOK_SECRET``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import threading
import time
from pathlib import Path

from cloud_bridge import alarm_contacts, alarm_ledger
from cloud_bridge.alarm_kinds import CRITICAL, NORMAL
from cloud_bridge.alarm_policy import canonical
from cloud_bridge.alarm_settings import NotifierSettings
from cloud_bridge.alarm_tables import create_alarm_tables
from cloud_bridge.db import Database, default_url
from cloud_bridge.notifier import Notifier
from cloud_bridge.sms.choose import provider_from_url

PROVIDER_ENV = "SMS_PROVIDER"
SECRET_ENV = "SMS_WEBHOOK_SECRET"


def _with_db(run):
    """A command run with a database connection of its own (with the notifier's tables), closed after; a
    refusal is an exit status 1."""

    def wrapped(args: argparse.Namespace) -> int:
        db = Database(args.db or default_url())
        try:
            create_alarm_tables(db)
            return run(db, args)
        except (ValueError, LookupError, *Database.CONFLICT_ERRORS) as error:
            print("cloud-bridge: %s" % (error.args[0] if error.args else error))
            return 1
        finally:
            db.close()

    return wrapped


def _when(unix_s: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(unix_s)) if unix_s else "-"


def _notify(db: Database, args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )
    url = args.provider or os.environ.get(PROVIDER_ENV)
    if not url:
        raise ValueError("no SMS provider: --provider or $%s" % PROVIDER_ENV)
    secret = (
        Path(args.secret_file).read_bytes().strip() if args.secret_file else os.environ.get(SECRET_ENV, "").encode()
    )
    settings = NotifierSettings.from_file(args.settings) if args.settings else NotifierSettings()
    if args.every is not None:
        settings = dataclasses.replace(settings, every_s=args.every)
    provider = provider_from_url(url, secret)
    notifier = Notifier(db, provider, settings)
    try:
        if args.once:
            done = notifier.round()
            print(
                "taken %d, sent %d, failed %d, capped %d, by the pile %d"
                % (done.taken, done.sent, done.failed, done.capped, done.by_pile)
            )
            return 0
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        logging.info("notifying through %s every %.0f s", provider.name, settings.every_s)
        notifier.run(stop)
        return 0
    finally:
        close = getattr(provider, "close", None)
        if close is not None:
            close()


def _site_set(db: Database, args: argparse.Namespace) -> int:
    alarm_contacts.set_site(db, args.pile, args.site, args.label, time.time())
    print("pile %s: at %s%s" % (args.pile, args.site, " as %s" % args.label if args.label else ""))
    return 0


def _site_list(db: Database, args: argparse.Namespace) -> int:
    rows = alarm_contacts.sites(db)
    if args.json:
        print(json.dumps(rows, indent=1, ensure_ascii=False))
    for row in [] if args.json else rows:
        print("%(site)s: %(pile)s %(label)s" % row)
    return 0


def _contact_add(db: Database, args: argparse.Namespace) -> int:
    classes = (CRITICAL, NORMAL) if args.alarm_class == "all" else (args.alarm_class,)
    for alarm_class in classes:
        contact_id = alarm_contacts.add_contact(
            db, args.site, alarm_class, args.level, args.name, args.number, time.time()
        )
        print(
            "contact %d: %s %s, %s alarms of %s, level %d"
            % (contact_id, args.name, canonical(args.number), alarm_class, args.site, args.level)
        )
    return 0


def _contact_list(db: Database, args: argparse.Namespace) -> int:
    rows = alarm_contacts.contacts(db, args.site)
    if args.json:
        print(json.dumps(rows, indent=1, ensure_ascii=False))
    for row in [] if args.json else rows:
        print("#%(id)d %(site)s %(alarm_class)s level %(level)d: %(name)s %(number)s" % row)
    return 0


def _contact_remove(db: Database, args: argparse.Namespace) -> int:
    alarm_contacts.remove_contact(db, args.id)
    print("contact %d removed" % args.id)
    return 0


def _alarm_line(alarm: dict) -> str:
    state = "closed" if alarm["closed_at"] else "cleared" if alarm["cleared_at"] else "open"
    acked = (
        " acknowledged by %s %s" % (alarm["acknowledged_by"], _when(alarm["acknowledged_at"]))
        if alarm["acknowledged_at"]
        else ""
    )
    return "#%d %s port %d %s (%s) %s since %s, raised %d, repeats %d%s" % (
        alarm["id"],
        alarm["pile"],
        alarm["port"],
        alarm["alarm"],
        alarm["alarm_class"],
        state,
        _when(alarm["opened_at"]),
        alarm["raised"],
        alarm["repeats"],
        acked,
    )


def _alarms(db: Database, args: argparse.Namespace) -> int:
    rows = alarm_ledger.listing(db, args.all, args.limit)
    if args.json:
        print(json.dumps(rows, indent=1, ensure_ascii=False))
    for row in [] if args.json else rows:
        print(_alarm_line(row))
    return 0


def _ack(db: Database, args: argparse.Namespace) -> int:
    alarm_ledger.acknowledge(db, args.id, args.by, time.time())
    print("alarm %d acknowledged by %s" % (args.id, args.by))
    return 0


def _history(db: Database, args: argparse.Namespace) -> int:
    rows = alarm_ledger.notifications(db, args.id, args.limit)
    if args.json:
        print(json.dumps(rows, indent=1, ensure_ascii=False))
    for row in [] if args.json else rows:
        outcome = row["message_id"] or row["error"] or ""
        print(
            "%s alarm %d %s to %s %s: %s %s %s"
            % (
                _when(row["at"]),
                row["alarm_id"],
                row["kind"],
                row["name"],
                row["number"],
                row["status"],
                outcome,
                row["text"],
            )
        )
    return 0


def add_alarm_commands(command) -> None:
    """Add these commands to ``cloud-bridge``'s parser, each by ``command(name, help, run, parent)``."""
    notify = command("notify", "send SMS about alarms: rounds until SIGTERM/SIGINT, or one", _with_db(_notify))
    notify.add_argument(
        "--provider", help="gsm:PORT, smpp://ID:PASSWORD@HOST:PORT or an http(s) URL (else $%s)" % PROVIDER_ENV
    )
    notify.add_argument("--secret-file", help="the webhook's shared secret (else $%s)" % SECRET_ENV)
    notify.add_argument("--settings", help="JSON file of notifier settings (docs/alarms.md)")
    notify.add_argument("--every", type=float, help="seconds between rounds (else the settings' every_s)")
    notify.add_argument("--once", action="store_true", help="one round, then exit")
    notify.add_argument("-v", "--verbose", action="store_true")

    site = command("sites", "which site each pile stands at", None)
    sites = site.add_subparsers(dest="action", required=True)
    place = command("set", "put a pile at a site", _with_db(_site_set), sites)
    place.add_argument("pile")
    place.add_argument("--site", required=True)
    place.add_argument("--label", default="", help="the pile's name in messages, e.g. 3号桩 (default: its id)")
    listing = command("list", "piles by site", _with_db(_site_list), sites)
    listing.add_argument("--json", action="store_true")

    contact = command("contacts", "who is texted about a site's alarms", None)
    contacts = contact.add_subparsers(dest="action", required=True)
    add = command("add", "add a contact", _with_db(_contact_add), contacts)
    add.add_argument("site")
    add.add_argument("--name", required=True)
    add.add_argument("--number", required=True)
    add.add_argument("--class", dest="alarm_class", choices=(CRITICAL, NORMAL, "all"), default="all")
    add.add_argument("--level", type=int, choices=(1, 2), default=1, help="1 from the start, 2 on escalation")
    shown = command("list", "the contacts", _with_db(_contact_list), contacts)
    shown.add_argument("--site")
    shown.add_argument("--json", action="store_true")
    remove = command("remove", "remove a contact", _with_db(_contact_remove), contacts)
    remove.add_argument("id", type=int)

    alarms = command("alarms", "open alarms (--all: closed ones too)", _with_db(_alarms))
    alarms.add_argument("--all", action="store_true")
    alarms.add_argument("--limit", type=int, default=100)
    alarms.add_argument("--json", action="store_true")
    actions = alarms.add_subparsers(dest="action")
    ack = command("ack", "acknowledge an alarm: no more repeats or escalation", _with_db(_ack), actions)
    ack.add_argument("id", type=int)
    ack.add_argument("--by", required=True)
    history = command("history", "the messages about an alarm (or all), newest first", _with_db(_history), actions)
    history.add_argument("id", type=int, nargs="?")
    history.add_argument("--limit", type=int, default=100)
    history.add_argument("--json", action="store_true")
