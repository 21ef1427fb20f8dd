"""Shorter private names for the device image: one small set of names shared by every module.

MicroPython interns every identifier a loaded module uses and never frees one
(tools/qstr_budget.py). A private name (``_settle``, ``_over_since``) used in
one module only is that module's business, so the build renames each such
name to a short one drawn from a shared sequence (``_a``, ``_b``, ...): two
modules' privates then share the interned copies, and the image needs a few
dozen names where the source has a couple of hundred.

What stays as written: dunder names, every private name that appears in more
than one device module (one module reaches into another's, or two modules
happen to use it: renaming it differently in each could split one attribute in
two), and the short names themselves are never a name the source already uses.
Modules joined by a class whose base comes from another device module share
one run of short names, so a subclass's privates never land on its base's.
The rename works on tokens, so line numbers (and tracebacks) stay true; the
map the build writes beside the image (``private-names.json``) turns a short
name in a traceback back into the source's.
"""

from __future__ import annotations

import ast
import io
import string
import tokenize
from collections import defaultdict
from pathlib import Path

_SHORT_LETTERS = string.ascii_lowercase + string.ascii_uppercase


def _short_names():
    """``_a`` ... ``_Z``, then ``_a0`` ... : names no Python source would choose for meaning."""
    for letter in _SHORT_LETTERS:
        yield "_" + letter
    for digit in range(10):
        for letter in _SHORT_LETTERS:
            yield "_" + letter + str(digit)


def _identifiers(source: str) -> list[str]:
    return [
        token.string for token in tokenize.generate_tokens(io.StringIO(source).readline) if token.type == tokenize.NAME
    ]


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name != "_"


def _module_of(path: str) -> str:
    return path[: -len(".py")].replace("/", ".")


def _cross_module_bases(sources: dict[str, str]) -> list[tuple[str, str]]:
    """(module path, base's module path) for each class whose base is imported from another device module."""
    by_module = {_module_of(path): path for path in sources}
    links = []
    for path, source in sources.items():
        tree = ast.parse(source)
        imported = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in by_module:
                for alias in node.names:
                    imported[alias.asname or alias.name] = by_module[node.module]
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for base in node.bases:
                    if isinstance(base, ast.Name) and base.id in imported:
                        links.append((path, imported[base.id]))
    return links


def plan(sources: dict[str, str]) -> dict[str, dict[str, str]]:
    """For each device path (keys of ``sources``, its text as values): {source name: short name}."""
    used_in = defaultdict(set)
    every_name = set()
    names_of = {}
    for path, source in sources.items():
        names = _identifiers(source)
        names_of[path] = names
        every_name.update(names)
        for name in names:
            if _is_private(name):
                used_in[name].add(path)
    # Modules joined by inheritance draw from one run of short names (a small union-find).
    group = {path: path for path in sources}

    def root(path: str) -> str:
        while group[path] != path:
            path = group[path]
        return path

    for path, base_path in _cross_module_bases(sources):
        group[root(path)] = root(base_path)
    free = [name for name in _short_names() if name not in every_name]
    renames: dict[str, dict[str, str]] = {path: {} for path in sources}
    group_taken: dict[str, dict[str, str]] = defaultdict(dict)
    for path in sorted(sources):
        taken = group_taken[root(path)]
        for name in names_of[path]:
            if not _is_private(name) or len(used_in[name]) > 1 or name in renames[path]:
                continue
            if name not in taken:
                taken[name] = free[len(taken)]
            renames[path][name] = taken[name]
    return renames


def rename(source: str, names: dict[str, str]) -> str:
    """``source`` with each identifier token in ``names`` replaced, lines and layout kept."""
    lines = source.splitlines(keepends=True)
    edits: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME and token.string in names:
            row, column = token.start
            edits[row].append((column, token.end[1], names[token.string]))
    for row, changes in edits.items():
        line = lines[row - 1]
        for start, end, new in sorted(changes, reverse=True):
            line = line[:start] + new + line[end:]
        lines[row - 1] = line
    return "".join(lines)


def renamed_sources(root: Path, paths: list[Path]) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Each device file's text with its private names shortened, and the plan (source name -> short)."""
    sources = {path.relative_to(root).as_posix(): path.read_text() for path in paths}
    renames = plan(sources)
    return {path: rename(text, renames[path]) for path, text in sources.items()}, renames
