"""``cloud-bridge``: run the ingest, and look at what it stored.

    cloud-bridge run --broker HOST:PORT [--user U --password-file F] [--db URL]
    cloud-bridge orders [--pile P] [--json]
    cloud-bridge gaps [--pile P] [--json]
    cloud-bridge presence --pile P [--json]
    cloud-bridge pile|command|config|commands|meter ...   (``cli_commands``)
    cloud-bridge notify|sites|contacts|alarms ...          (``cli_alarms``: SMS about alarms)

``run`` also runs the command channel (``channel``): it sends the commands the other commands queue.
The database is ``--db``, else ``DATABASE_URL``, else ``sqlite:///cloud_bridge.db``. The broker password
comes from ``--password-file`` or ``CLOUD_BRIDGE_PASSWORD``, never from the command line, where any
user of the machine could read it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
import time
from pathlib import Path

from cloud_bridge import queries
from cloud_bridge.channel import CommandChannel
from cloud_bridge.cli_alarms import add_alarm_commands
from cloud_bridge.cli_commands import add_commands
from cloud_bridge.db import Database, default_url
from cloud_bridge.ingest import CLIENT_ID, Bridge

PASSWORD_ENV = "CLOUD_BRIDGE_PASSWORD"


def _broker(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT, got %r" % text)
    return host, int(port)


def _password(args: argparse.Namespace) -> str | None:
    if args.password_file is not None:
        return Path(args.password_file).read_text().strip()
    return os.environ.get(PASSWORD_ENV)


def _run(args: argparse.Namespace) -> int:
    level = logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(message)s")
    host, port = args.broker
    bridge = Bridge(
        host,
        port,
        args.user,
        _password(args),
        args.db,
        client_id=args.client_id,
        batch_max=args.batch_max,
        batch_ms=args.batch_ms,
    )
    channel = CommandChannel(bridge)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        bridge.start(args.connect_timeout)
    except ConnectionError as error:
        logging.error("%s", error)
        return 1
    channel.start()
    while not stop.wait(1.0) and bridge.failure is None:
        pass
    channel.stop()
    bridge.stop()
    return 1 if bridge.failure is not None else 0


def _when(unix_s: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(unix_s)) if unix_s else "-"


def _order_line(order: dict) -> str:
    return (
        "%(pile)s #%(order_no)d port %(port)d %(method)s %(start)s..%(end)s %(energy_wh)d Wh %(charged_s)d s,"
        " paid %(paid_fen)d used %(used_fen)d returned %(returned_fen)d fen, %(stop_reason)s"
        % dict(order, start=_when(order["start_t"]), end=_when(order["end_t"]))
    )


def _gap_line(gap: dict) -> str:
    return "%(pile)s boot %(boot)d: seq %(first_seq)d..%(last_seq)d missing (%(count)d), found %(found)s" % dict(
        gap, count=gap["last_seq"] - gap["first_seq"] + 1, found=_when(gap["found_at"])
    )


def _presence_line(change: dict) -> str:
    return "%(pile)s boot %(boot)d connection %(birth_seq)d %(state)s, seen %(seen)s" % dict(
        change, state="online" if change["online"] else "offline", seen=_when(change["received_at"])
    )


def _query(select, line):
    """A command that prints the rows ``select(db, pile)`` returns, as JSON or a ``line`` each."""

    def run(args: argparse.Namespace) -> int:
        db = Database(args.db or default_url())
        try:
            db.create_schema()  # an empty database answers "nothing yet" rather than an error
            rows = select(db, args.pile)
        finally:
            db.close()
        if args.json:
            print(json.dumps(rows, indent=1))
        else:
            for row in rows:
                print(line(row))
        return 0

    return run


def parser() -> argparse.ArgumentParser:
    """The command line."""
    top = argparse.ArgumentParser(prog="cloud-bridge", description=__doc__.split("\n")[0])
    commands = top.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str, run, parent=commands) -> argparse.ArgumentParser:
        """A command (of ``parent``); one that only groups others (``run`` None) takes no options."""
        sub = parent.add_parser(name, help=help_text)
        if run is not None:
            sub.add_argument(
                "--db", help="database URL (default: $DATABASE_URL, else %s)" % "sqlite:///cloud_bridge.db"
            )
            sub.set_defaults(run=run)
        return sub

    run = command("run", "ingest from the broker until SIGTERM/SIGINT", _run)
    run.add_argument("--broker", type=_broker, required=True, metavar="HOST:PORT")
    run.add_argument("--user")
    run.add_argument("--password-file", help="file holding the broker password (else $%s)" % PASSWORD_ENV)
    run.add_argument("--client-id", default=CLIENT_ID, help="the persistent session's id (default %(default)s)")
    run.add_argument("--batch-max", type=int, default=1000, help="messages per commit at most")
    run.add_argument("--batch-ms", type=float, default=100.0, help="age of a batch at most before it commits")
    run.add_argument("--connect-timeout", type=float, default=30.0, help="seconds to wait for the broker")
    run.add_argument("-v", "--verbose", action="store_true")

    orders = command("orders", "list stored orders", _query(queries.orders, _order_line))
    orders.add_argument("--pile")
    orders.add_argument("--json", action="store_true")
    gaps = command("gaps", "list records that never arrived", _query(queries.gaps, _gap_line))
    gaps.add_argument("--pile")
    gaps.add_argument("--json", action="store_true")
    presence = command("presence", "a pile's online/offline history", _query(queries.presence, _presence_line))
    presence.add_argument("--pile", required=True)
    presence.add_argument("--json", action="store_true")
    add_commands(command)
    add_alarm_commands(command)
    return top


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``cloud-bridge`` and ``python -m cloud_bridge``."""
    args = parser().parse_args(argv)
    return args.run(args)
