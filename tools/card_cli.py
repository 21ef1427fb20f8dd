"""``pilectl card``: the issuing desk's commands (docs/card-desk.md).

    pilectl card issue --kind prepaid|monthly|free|staff [--balance FEN] [--valid-until YYYY-MM-DD]  (reader)
    pilectl card topup --fen FEN | read | unlock [--pile-wait SECONDS] | refund                      (reader)
    pilectl card block UID | unblock UID | history UID | blacklist [--push PILE] | overspent

The reader commands take ``--port PATH`` (the desk reader's serial port) and ``--site-key FILE`` (the
site key, 64 hex digits, kept out of the repository). Every command takes ``--db URL`` (else
``DATABASE_URL``, else ``sqlite:///cloud_bridge.db``, as ``cloud-bridge``) and ``--operator NAME`` (else
the login name), and prints one JSON object: what was done, or ``{"refused": why}``. Exit status: 0 done,
1 refused, 2 a malformed command line, 3 a write whose outcome is unknown (the card left and did not
come back; nothing recorded), 4 a write the card holds that the bridge's database failed to record, 5
waiting for the pile (``unlock`` asked the pile and has no answer yet: nothing written; run it again).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from dataclasses import asdict
from pathlib import Path

from cloud_bridge import card_queries, card_status, cards
from cloud_bridge.card_tables import create_card_tables
from cloud_bridge.card_uid import parse_uid
from cloud_bridge.cards import CardRefused
from cloud_bridge.db import DEFAULT_URL, Database, default_url
from firmware.card.record import FREE, MONTHLY, PREPAID, STAFF
from tools import card_desk, card_issue, card_refund, card_topup, card_unlock
from tools.card_days import day_number, day_text
from tools.desk_reader import DeskReader

SITE_KEY_BYTES = 32
DEFAULT_WAIT_S = 10.0
EXIT_REFUSED, EXIT_UNCONFIRMED, EXIT_NOT_RECORDED, EXIT_PILE_WAIT = 1, 3, 4, 5
KIND_NAMES = {"prepaid": PREPAID, "monthly": MONTHLY, "free": FREE, "staff": STAFF}


def read_site_key(path: str) -> bytes:
    """The site key in the file ``path`` (hex); ``CardRefused`` naming the file, never its content."""
    try:
        key = bytes.fromhex(Path(path).read_text().strip())
    except (OSError, UnicodeDecodeError, ValueError):
        raise CardRefused("%s is not a readable site key file (%d hex digits)" % (path, 2 * SITE_KEY_BYTES)) from None
    if len(key) != SITE_KEY_BYTES:
        raise CardRefused("%s holds %d bytes, not a %d-byte site key" % (path, len(key), SITE_KEY_BYTES))
    return key


def _login_name() -> str | None:
    """The login name, or None where the system has none to give (a bare container)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _print(result: dict) -> None:
    print(json.dumps(result, indent=1, sort_keys=True))


def _database(args: argparse.Namespace) -> Database:
    db = Database(args.db or default_url())
    create_card_tables(db)
    return db


def _outcome(run):
    """Print what ``run(args)`` returns, or why it was refused, as the exit status says."""

    def wrapped(args: argparse.Namespace) -> int:
        try:
            if not args.operator:
                raise CardRefused("no login name to record as the operator: give --operator")
            _print(run(args))
            return 0
        except card_desk.WriteUnconfirmed as unknown:
            _print({"refused": str(unknown), "outcome": "unknown"})
            return EXIT_UNCONFIRMED
        except card_desk.NotRecorded as unrecorded:
            _print({"refused": str(unrecorded), "outcome": "written, not recorded"})
            return EXIT_NOT_RECORDED
        except card_unlock.PileNotAnswered as waiting:
            _print({"refused": str(waiting), "outcome": "waiting for the pile"})
            return EXIT_PILE_WAIT
        except (ValueError, LookupError) as refusal:  # a refused request, a malformed URL, an unknown pile
            _print({"refused": refusal.args[0] if refusal.args else repr(refusal)})
        except Database.ERRORS as error:
            _print({"refused": "bridge database: %s" % error})
        except OSError as error:  # the reader's own errors name it
            _print({"refused": str(error)})
        return EXIT_REFUSED

    return wrapped


def _at_reader(operation):
    """A command that works on the card on the reader: ``operation(desk, args)``, a coroutine."""

    def run(args: argparse.Namespace) -> dict:
        site_key = read_site_key(args.site_key)
        db = _database(args)
        try:
            reader = DeskReader(args.port, args.baud)
            try:
                reader.open()
                desk = card_desk.Desk(reader, db, site_key, args.operator, args.wait, _say)
                return asyncio.run(operation(desk, args))
            finally:
                reader.close()
        finally:
            db.close()

    return _outcome(run)


def _on_ledger(operation):
    """A command on the bridge's records alone: ``operation(db, args)``."""

    def run(args: argparse.Namespace) -> dict:
        db = _database(args)
        try:
            return operation(db, args)
        finally:
            db.close()

    return _outcome(run)


async def _issue(desk: card_desk.Desk, args: argparse.Namespace) -> dict:
    valid_until = 0 if args.valid_until is None else args.valid_until
    return _dated(await card_issue.issue(desk, KIND_NAMES[args.kind], args.balance, valid_until))


async def _topup(desk: card_desk.Desk, args: argparse.Namespace) -> dict:
    return await card_topup.topup(desk, args.fen)


async def _read(desk: card_desk.Desk, _args: argparse.Namespace) -> dict:
    return _dated(await card_desk.read(desk))


async def _unlock(desk: card_desk.Desk, args: argparse.Namespace) -> dict:
    return await card_unlock.unlock(desk, args.pile_wait)


async def _refund(desk: card_desk.Desk, _args: argparse.Namespace) -> dict:
    return await card_refund.refund(desk)


def _dated(result: dict) -> dict:
    """``result`` with its record's day numbers also as dates."""
    record = result["record"]
    record["valid_until_date"] = day_text(record["valid_until"])
    record["last_day_date"] = day_text(record["last_day"])
    return result


def _block(db: Database, args: argparse.Namespace) -> dict:
    sent = card_status.block(db, args.uid, args.operator)
    return {"uid": args.uid, "status": cards.BLOCKED, "commands": [list(each) for each in sent]}


def _unblock(db: Database, args: argparse.Namespace) -> dict:
    sent = card_status.unblock(db, args.uid, args.operator)
    return {"uid": args.uid, "status": cards.ACTIVE, "commands": [list(each) for each in sent]}


def _history(db: Database, args: argparse.Namespace) -> dict:
    card = cards.get(db, args.uid)
    if card is None:
        raise CardRefused("card %s was not issued here" % args.uid)
    return {
        "card": asdict(card),
        "events": card_queries.events(db, args.uid),
        "orders": card_queries.orders(db, args.uid),
        "open_session": card_queries.grey_session(db, args.uid),
    }


def _blacklist(db: Database, args: argparse.Namespace) -> dict:
    if args.push is None:
        return {"blacklist": card_status.blacklist(db)}
    return {"pile": args.push, "commands": card_status.push(db, args.push)}


def _overspent(db: Database, _args: argparse.Namespace) -> dict:
    return {"overspent": card_queries.overspent(db)}


def _uid(text: str) -> str:
    try:
        return parse_uid(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _day(text: str) -> int:
    try:
        return day_number(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parser() -> argparse.ArgumentParser:
    """The command line of ``pilectl card``."""
    top = argparse.ArgumentParser(prog="pilectl card", description=__doc__.split("\n")[0])
    commands = top.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str, run, at_reader: bool) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--db", help="bridge database URL (default: $DATABASE_URL, else %s)" % DEFAULT_URL)
        sub.add_argument("--operator", default=_login_name(), help="who does it (default: the login name)")
        if at_reader:
            sub.add_argument("--port", required=True, help="the desk reader's serial port, e.g. /dev/ttyUSB0")
            sub.add_argument("--baud", type=int, default=115200, help="its baud rate (default %(default)s)")
            sub.add_argument("--site-key", required=True, metavar="FILE", help="file holding the site key (hex)")
            sub.add_argument("--wait", type=float, default=DEFAULT_WAIT_S, help="seconds to wait for the card")
        sub.set_defaults(run=_at_reader(run) if at_reader else _on_ledger(run))
        return sub

    issue = command("issue", "issue a blank card", _issue, True)
    issue.add_argument("--kind", required=True, choices=list(KIND_NAMES))
    issue.add_argument("--balance", type=int, default=0, metavar="FEN", help="opening balance (prepaid)")
    issue.add_argument("--valid-until", type=_day, metavar="YYYY-MM-DD", help="last valid day (monthly)")
    topup = command("topup", "add money to a prepaid card", _topup, True)
    topup.add_argument("--fen", type=int, required=True, help="fen to add (1 to %d)" % card_topup.TOPUP_MAX_FEN)
    command("read", "print the card's record", _read, True)
    unlock = command("unlock", "settle the session a card is still marked with (解灰)", _unlock, True)
    unlock.add_argument(
        "--pile-wait",
        type=float,
        default=card_unlock.PILE_WAIT_S,
        metavar="SECONDS",
        help="how long to wait for the pile's answer (default %(default)g; 0: ask, or read its answer, only)",
    )
    command("refund", "cancel a card: pay out its balance, block it", _refund, True)
    for name, help_text, run in (
        ("block", "block a card on every pile (lost, stolen)", _block),
        ("unblock", "let a blocked card charge again", _unblock),
        ("history", "a card's events, sessions and open session", _history),
    ):
        command(name, help_text, run, False).add_argument("uid", type=_uid)
    blacklist = command("blacklist", "the blocked and cancelled cards", _blacklist, False)
    blacklist.add_argument("--push", metavar="PILE", help="send the whole blacklist to this pile")
    command("overspent", "prepaid cards that used more than was put on them (replayed or cloned)", _overspent, False)
    return top


def main(argv: list[str]) -> int:
    """Run one ``pilectl card`` command."""
    args = parser().parse_args(argv)
    return args.run(args)
