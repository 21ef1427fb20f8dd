"""Cutting the power at every flash block write of a scripted lifecycle, and checking what survives.

Each cut runs ``boards/sim/lifecycle.py`` three times on a fresh copy of a
provisioned image: ``run`` until the armed block program (which completes or
not), killed there like a board losing power; ``restore`` (the firmware's own
boot reconciliation, then resume, stops and the outbox), itself cut at one of
its first writes; and ``restore`` again to the end. The checks: the flash
mounts; no order that reached flash is lost, none is duplicated or invented;
no order costs more than its relay-on time at the price (an independent
bound); the credit in doubt stays within one checkpoint interval; the money
adds up (coins saved <= credit + paid - returned <= coins inserted); and no
relay is on without credit.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from boards.sim.world.flash import provision
from boards.sim.world.vm import DEFAULT_HEAP, micropython_executable
from tools.mpy_build import ROOT, build

IMAGE = ROOT / "build" / "sim"
RUN_TIMEOUT_S = 60
STEP_MS = 200
# The lifecycle's price, UNIT_MIN=10: 100 fen (100000 milli-fen) per 600000 ms.
MFEN_PER_MS_NUM = 100000
MFEN_PER_MS_DEN = 600000
# UNIT_MIN=10 in the lifecycle: 100 fen per 600 s, so one 5 s checkpoint interval plus one
# 200 ms step of use is 875 milli-fen.
CREDIT_DOUBT_MFEN = (5000 + 200) * 100 * 1000 // (10 * 60 * 1000)


@dataclass
class CutResult:
    """What one cut left behind."""

    index: int
    completes: bool
    reached: bool = False
    recovered: bool = False
    lost: list[int] = field(default_factory=list)
    duplicated: list[int] = field(default_factory=list)
    phantom: list[int] = field(default_factory=list)
    overcharged: list[int] = field(default_factory=list)
    credit_error_mfen: int = 0
    violations: list[str] = field(default_factory=list)
    money: tuple[int, int, int] = (0, 0, 0)

    @property
    def ok(self) -> bool:
        """True when the cut broke none of the rules."""
        return (
            self.recovered
            and not (self.lost or self.duplicated or self.phantom or self.overcharged or self.violations)
            and self.credit_error_mfen <= CREDIT_DOUBT_MFEN
        )


def run_lifecycle(args: list[str], image: Path) -> list[str]:
    """Run the lifecycle script to its end; its output lines."""
    return _vm(args, image, stop_at_cut=False)


def _vm(args: list[str], image: Path, stop_at_cut: bool) -> list[str]:
    """Run the lifecycle on the VM; with ``stop_at_cut`` it is killed when the cut is reached."""
    process = subprocess.Popen(
        [micropython_executable(), "-X", f"heapsize={DEFAULT_HEAP}", "-m", "boards.sim.lifecycle", *args],
        cwd=image.parent,
        env={"MICROPYPATH": f".frozen:{IMAGE}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    assert process.stdout
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if stop_at_cut and line.startswith("E cut"):
            process.kill()
            break
    process.wait(RUN_TIMEOUT_S)
    return lines


def provisioned_image(folder: Path) -> Path:
    """A freshly formatted flash image, built once per folder."""
    image = folder / "pristine.img"
    if not image.exists():
        build("sim", IMAGE)
        provision(image)
    return image


def writes_in_lifecycle(folder: Path) -> int:
    """How many block programs the uncut lifecycle makes (the cut indices are 1..this)."""
    image = folder / "count.img"
    shutil.copy(provisioned_image(folder), image)
    lines = _vm(["run", str(image), "0", "1"], image, stop_at_cut=False)
    return int(next(line for line in lines if line.startswith("END")).split()[1])


def second_cut(index: int) -> int:
    """Where the restore after cut ``index`` is itself cut (spread over its first writes)."""
    return 1 + (index * 7) % 45


def cut_once(folder: Path, index: int, completes: bool) -> CutResult:
    """Cut the lifecycle at block program ``index``, cut its restore too, restore again, and check."""
    result = CutResult(index, completes)
    image = folder / f"cut-{index}-{int(completes)}.img"
    shutil.copy(provisioned_image(folder), image)
    try:
        runs = [
            _vm(["run", str(image), str(index), str(int(completes))], image, stop_at_cut=True),
            _vm(["restore", str(image), str(second_cut(index)), str(int(not completes))], image, stop_at_cut=True),
            _vm(["restore", str(image), "0", "1"], image, stop_at_cut=False),
        ]
    finally:
        image.unlink(missing_ok=True)
    result.reached = any(line.startswith("E cut") for line in runs[0])
    final = runs[-1]
    result.recovered = any(line.startswith("END") for line in final)
    _check(result, runs)
    return result


def _check(result: CutResult, runs: list[list[str]]) -> None:
    on_ms: dict[int, int] = {}
    used_seen: dict[int, int] = {}
    persisted: set[int] = set()
    inserted = inserted_saved = 0
    for lines in runs:
        # A restored session is compared with the use known before this boot.
        for line in lines:
            if line.startswith("R "):
                snapshot = json.loads(line[2:])
                result.credit_error_mfen = max(
                    result.credit_error_mfen, used_seen.get(snapshot["no"], 0) - snapshot["used_mfen"]
                )
        run_on_ms: dict[int, int] = {}
        pending_inserts = 0
        for line in lines:
            kind, *words = line.split()
            if kind == "M":
                pending_inserts += int(words[0])
                inserted += int(words[0])
            elif kind == "W" and words[0] == "counters":
                inserted_saved += pending_inserts
                pending_inserts = 0
            elif kind in ("T", "U"):
                number = int(words[0])
                used_seen[number] = max(used_seen.get(number, 0), int(words[1]))
                if kind == "U":
                    run_on_ms[number] = int(words[2])
            if kind == "W" and words[0] in ("session", "order"):
                persisted.add(int(words[1]))
            if kind == "V":
                result.violations.append(line)
        for number, ms in run_on_ms.items():
            # One step of relay time may have passed after the last report before a cut.
            on_ms[number] = on_ms.get(number, 0) + ms + STEP_MS
    final = runs[-1]
    orders = [json.loads(line[2:]) for line in final if line.startswith("O ")]
    numbers = [order["no"] for order in orders]
    result.duplicated = sorted({n for n in numbers if numbers.count(n) > 1})
    result.lost = sorted(persisted - set(numbers))
    result.phantom = sorted(set(numbers) - persisted - set(used_seen))
    for order in orders:
        # Independent of the firmware's accounting: the relay-on time at the lifecycle's price.
        if order["used"] * 1000 > on_ms.get(order["no"], 0) * MFEN_PER_MS_NUM // MFEN_PER_MS_DEN:
            result.overcharged.append(order["no"])
    credit = [int(line.split()[1]) for line in final if line.startswith("C ")]
    accounted = (credit[-1] if credit else 0) + sum(order["paid"] - order["returned"] for order in orders)
    result.money = (inserted_saved, accounted, inserted)
    if not inserted_saved <= accounted <= inserted:
        result.violations.append(f"money: saved {inserted_saved} <= accounted {accounted} <= inserted {inserted}")


def torture(indices: list[int], workers: int = 2) -> list[CutResult]:
    """Cut at each index, once with the block written and once without."""
    with tempfile.TemporaryDirectory(prefix="powercut-") as name:
        folder = Path(name)
        provisioned_image(folder)
        jobs = [(index, completes) for index in indices for completes in (True, False)]
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(lambda job: cut_once(folder, *job), jobs))


def summary(results: list[CutResult]) -> dict:
    """The figures of a torture run."""
    return {
        "cuts_tried": len(results),
        "cuts_reached": sum(r.reached for r in results),
        "recovered": sum(r.recovered for r in results),
        "orders_lost": sum(len(r.lost) for r in results),
        "orders_duplicated": sum(len(r.duplicated) for r in results),
        "orders_phantom": sum(len(r.phantom) for r in results),
        "overcharged": sum(len(r.overcharged) for r in results),
        "max_credit_error_mfen": max((r.credit_error_mfen for r in results), default=0),
        "credit_doubt_bound_mfen": CREDIT_DOUBT_MFEN,
        "violations": sum(len(r.violations) for r in results),
        "failed_cuts": [(r.index, r.completes) for r in results if not r.ok][:10],
    }
