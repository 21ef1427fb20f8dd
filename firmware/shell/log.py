"""Structured log lines on the console (the USB REPL on a board, stdout in the sim).

One JSON object per line, with a ``log`` kind, so the installer's tools and
the virtual pile's rig can read what the firmware did.
"""

import json


def log(kind, **fields):
    """Print one log record of ``kind``."""
    fields["log"] = kind
    print(json.dumps(fields))


def note(message):
    """A free-text line, e.g. a rejected configuration."""
    log("note", text=message)
