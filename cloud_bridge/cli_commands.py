"""``cloud-bridge`` commands for piles' keys, signed commands, config and the main meter.

    cloud-bridge pile add ID --key-file broker/piles/ID.json
    cloud-bridge pile list
    cloud-bridge command start PILE --port N --credit FEN --reference REF [--ttl S] [--wait S]
    cloud-bridge command stop PILE --port N [--ttl S] [--wait S]
    cloud-bridge command query|reboot|time PILE [--ttl S] [--wait S]
    cloud-bridge config set PILE KEY=VALUE ... [--wait S]
    cloud-bridge config show PILE [--json]
    cloud-bridge commands PILE [--json]
    cloud-bridge meter PILE [--json]

A command is committed here, signed and unsent; the running bridge (``cloud-bridge run``, on the same
database) publishes it within a second, since only it holds the bridge's broker connection. ``--wait``
then watches the database for its outcome (exit status 0 only when it is ``done``). A VALUE is read
as JSON when it parses (``120``, ``true``, ``[[200,300]]``), else taken as text (``tier``).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict

from cloud_bridge import commands, config_shadow, pile_keys, queries
from cloud_bridge.channel import DEFAULT_TTL_S
from cloud_bridge.db import Database, default_url

WAIT_POLL_S = 0.2


def _database(args: argparse.Namespace) -> Database:
    db = Database(args.db or default_url())
    db.create_schema()  # an empty database answers "nothing yet" rather than an error
    return db


def _with_db(run):
    """A command run with a database connection of its own, closed after; a refusal is an exit status 1."""

    def wrapped(args: argparse.Namespace) -> int:
        db = _database(args)
        try:
            return run(db, args)
        except (ValueError, LookupError) as error:
            print("cloud-bridge: %s" % (error.args[0] if error.args else error))
            return 1
        finally:
            db.close()

    return wrapped


def _pile_add(db: Database, args: argparse.Namespace) -> int:
    new = pile_keys.add(db, args.id, pile_keys.read_key_file(args.key_file, args.id))
    print("pile %s: key %s" % (args.id, "added" if new else "replaced"))
    return 0


def _pile_list(db: Database, _args: argparse.Namespace) -> int:
    for pile in pile_keys.piles(db):
        print(pile)
    return 0


def _wait(db: Database, command: commands.Command, wait_s: float) -> int:
    """Print what the command is at once it leaves pending (or ``wait_s`` passes); 0 if done."""
    deadline = time.monotonic() + wait_s
    while command.state == commands.PENDING and time.monotonic() < deadline:
        time.sleep(WAIT_POLL_S)
        command = commands.get(db, command.pile, command.id)
    print(_command_line(command))
    return 0 if command.state == commands.DONE else 1


def _command(db: Database, args: argparse.Namespace) -> int:
    names = [name for name, _ in commands.KINDS[args.kind]]
    made, _ = commands.create(db, args.pile, args.kind, {name: getattr(args, name) for name in names}, args.ttl)
    print("pile %s: command %d (%s) queued for the running bridge" % (made.pile, made.id, made.kind))
    return _wait(db, made, args.wait) if args.wait else 0


def _setting(text: str) -> tuple[str, object]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError("expected KEY=VALUE, got %r" % text)
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


def _config_set(db: Database, args: argparse.Namespace) -> int:
    pile_keys.key(db, args.pile)  # an unknown pile gets no desired config
    now = time.time()
    version = config_shadow.set_desired(db, args.pile, dict(args.settings), now)
    made = config_shadow.catch_up(db, args.pile, now)
    if made is None:
        print("pile %s: config version %d desired; the pile has it" % (args.pile, version))
        return 0
    print(
        "pile %s: config version %d desired, command %d queued for the running bridge"
        % (args.pile, version, made[0].id)
    )
    return _wait(db, made[0], args.wait) if args.wait else 0


def _config_show(db: Database, args: argparse.Namespace) -> int:
    version, settings = config_shadow.desired(db, args.pile)
    lacking = config_shadow.difference(db, args.pile)
    shadow = {
        "pile": args.pile,
        "desired_version": version,
        "desired": settings,
        "applied_version": config_shadow.applied(db, args.pile),
        "to_send": lacking[1] if lacking else {},
    }
    if args.json:
        print(json.dumps(shadow, indent=1, sort_keys=True))
        return 0
    print("pile %(pile)s: desired version %(desired_version)d, applied %(applied_version)d" % shadow)
    for name, value in sorted(settings.items()):
        print("  %s=%s%s" % (name, json.dumps(value), "  (not applied)" if name in shadow["to_send"] else ""))
    return 0


def _when(unix_s: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(unix_s)) if unix_s else "-"


def _command_line(command: commands.Command) -> str:
    answer = "" if command.result_name in (None, command.state) else " (%s)" % command.result_name
    detail = " %r" % command.detail if command.detail else ""
    data = "" if command.data is None else " data %s" % json.dumps(command.data, default=str)
    return "%s #%d %s %s %s%s%s%s, issued %s, sent %d" % (
        command.pile,
        command.id,
        command.kind,
        json.dumps(command.args, sort_keys=True),
        command.state,
        answer,
        detail,
        data,
        _when(command.issued),
        command.sent,
    )


def _commands(db: Database, args: argparse.Namespace) -> int:
    listed = commands.of_pile(db, args.pile, args.limit)
    if args.json:
        print(json.dumps([asdict(command) for command in listed], indent=1, default=str))
    for command in [] if args.json else listed:
        print(_command_line(command))
    return 0


def _meter(db: Database, args: argparse.Namespace) -> int:
    readings = queries.meters(db, args.pile, args.limit)
    if args.json:
        print(json.dumps(readings, indent=1))
    for reading in [] if args.json else readings:
        print(
            "%(pile)s boot %(boot)d seq %(seq)d: %(energy_wh)d Wh, %(volts).1f V, %(current_ma)d mA, %(power_w)d W,"
            " at %(at)s"
            % dict(reading, volts=reading["voltage_dv"] / 10, at=_when(reading["t"] or reading["received_at"]))
        )
    return 0


def add_commands(command) -> None:
    """Add these commands to ``cloud-bridge``'s parser, each by ``command(name, help, run, parent)``."""
    pile = command("pile", "the piles the bridge may command, and their keys", None)
    piles = pile.add_subparsers(dest="action", required=True)
    add = command("add", "give a pile its command key from its credentials file", _with_db(_pile_add), piles)
    add.add_argument("id")
    add.add_argument("--key-file", required=True, help="the pile's piles/<id>.json from pilectl broker")
    command("list", "the piles with a key", _with_db(_pile_list), piles)

    send = command("command", "sign a command for a pile (the running bridge sends it)", None)
    kinds = send.add_subparsers(dest="kind", required=True)
    for kind, arguments in commands.KINDS.items():
        if kind in ("config", "cards"):
            continue  # through `config set`, which keeps the versions, and `pilectl card`, which keeps the blacklist
        sub = command(kind, "a %s command" % kind, _with_db(_command), kinds)
        sub.add_argument("pile")
        for name, _ in arguments:
            sub.add_argument("--" + name, required=True, type=str if name == "reference" else int)
        sub.add_argument("--ttl", type=int, default=DEFAULT_TTL_S, help="seconds until it expires")
        sub.add_argument("--wait", type=float, default=0.0, help="seconds to wait for its outcome")

    config = command("config", "a pile's desired configuration", None)
    actions = config.add_subparsers(dest="action", required=True)
    settings = command("set", "change desired settings and send what the pile lacks", _with_db(_config_set), actions)
    settings.add_argument("pile")
    settings.add_argument("settings", nargs="+", type=_setting, metavar="KEY=VALUE")
    settings.add_argument("--wait", type=float, default=0.0, help="seconds to wait for its outcome")
    show = command("show", "desired and applied configuration", _with_db(_config_show), actions)
    show.add_argument("pile")
    show.add_argument("--json", action="store_true")

    listing = command("commands", "a pile's latest commands and their states", _with_db(_commands))
    listing.add_argument("pile")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true")
    meter = command("meter", "a pile's latest main meter readings", _with_db(_meter))
    meter.add_argument("pile")
    meter.add_argument("--limit", type=int, default=20)
    meter.add_argument("--json", action="store_true")
