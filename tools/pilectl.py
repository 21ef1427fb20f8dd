"""pilectl: the installer's and developer's command line for the pile.

Commands here: ``build`` (mpy-cross), ``sim`` (one virtual pile you can drive),
``demo`` (a virtual pile with a scripted stream of residents), ``bench``
(figures printed as JSON), ``broker`` (accounts) and ``card`` (the issuing
desk, docs/card-desk.md). Flashing, provisioning and labels come with their
own issues.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from tools.mpy_build import ROOT, build


def _build(args: argparse.Namespace) -> int:
    out = Path(args.out or ROOT / "build" / args.board)
    manifest = build(args.board, out)
    total = sum(entry["bytes"] for entry in manifest.values())
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    print(json.dumps({"board": args.board, "files": len(manifest), "bytes": total, "out": str(out)}))
    return 0


def _load_config(path: str | None) -> dict:
    return json.loads(Path(path).read_text()) if path else {}


def _sim(args: argparse.Namespace) -> int:
    from tools.sim_console import run_console

    return asyncio.run(run_console(_load_config(args.config), args.profile, args.speedup, args.heap))


def _demo(args: argparse.Namespace) -> int:
    from tools.sim_console import run_demo

    redraw = sys.stdout.isatty() and not args.plain
    return asyncio.run(run_demo(args.profile, args.forever, redraw, args.public_url))


def _broker(args: argparse.Namespace) -> int:
    from tools import broker_accounts

    return broker_accounts.main(args.rest)


def _card(args: argparse.Namespace) -> int:
    from tools import card_cli

    return card_cli.main(args.rest)


def _bench(args: argparse.Namespace) -> int:
    from tools import bench

    result = asyncio.run(bench.RUNNERS[args.what](args))
    print(json.dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="pilectl", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("build", help="compile firmware, drivers and a board to .mpy")
    p.add_argument("--board", default="esp32s3", choices=["esp32s3", "sim"])
    p.add_argument("--out", help="output folder (default build/<board>)")
    p.set_defaults(run=_build)

    p = commands.add_parser("sim", help="run one virtual pile with a live table and a command prompt")
    p.add_argument("--config", help="site configuration JSON for the pile")
    p.add_argument("--profile", default="mc10", choices=["mc10", "sdm120"])
    p.add_argument("--speedup", type=float, default=60.0, help="battery time runs this much faster")
    p.add_argument("--heap", default="96wK", help="MicroPython heap size (-X heapsize)")
    p.set_defaults(run=_sim)

    p = commands.add_parser("demo", help="a virtual pile and a scripted stream of residents")
    p.add_argument("--profile", default="mc10", choices=["mc10", "sdm120"])
    p.add_argument("--forever", action="store_true", help="keep the pile running after the script")
    p.add_argument("--plain", action="store_true", help="print snapshots instead of redrawing the screen")
    p.add_argument(
        "--public-url",
        help="serve the QR pages on every interface at this URL's port, e.g. http://192.168.1.20:8080 for phones",
    )
    p.set_defaults(run=_demo)

    p = commands.add_parser("broker", help="per-pile broker accounts and ACL for mosquitto (docs/broker.md)")
    p.add_argument(
        "rest", nargs=argparse.REMAINDER, help="add-pile ID | rotate ID | remove-pile ID | bridge | write | list"
    )
    p.set_defaults(run=_broker)

    p = commands.add_parser("card", help="the issuing desk: IC cards and their records (docs/card-desk.md)")
    p.add_argument(
        "rest",
        nargs=argparse.REMAINDER,
        help="issue | topup | read | unlock | refund | block | unblock | history | blacklist | overspent",
    )
    p.set_defaults(run=_card)

    p = commands.add_parser("bench", help="benchmarks; each prints one JSON object")
    p.add_argument(
        "what", choices=["meter", "trip", "memory", "powercut", "wear", "resume", "card", "wire", "ingest", "qstrs"]
    )
    p.add_argument("--profile", default="mc10", choices=["mc10", "sdm120"])
    p.add_argument("--trials", type=int, default=None, help="trip (60) / resume (10) / card (10): trials measured")
    p.add_argument("--seconds", type=float, default=20.0, help="meter/memory: how long to run")
    p.add_argument("--heap", default="96wK", help="MicroPython heap size (-X heapsize)")
    p.add_argument(
        "--card-book", default="full", choices=["full", "empty"], help="memory: the card book the pile boots with"
    )
    p.set_defaults(run=_bench)

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["broker"], ["card"]):
        # Their options belong to their own parsers, which argparse.REMAINDER would not pass on.
        rest = argparse.Namespace(rest=argv[1:])
        return _broker(rest) if argv[0] == "broker" else _card(rest)
    args = parser.parse_args(argv)
    if getattr(args, "what", None) and args.trials is None:
        args.trials = {"trip": 60, "resume": 10, "card": 10}.get(args.what, 0)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
