"""Structured log lines on the console (the USB REPL on a board, stdout in the sim).

One JSON object per line, with a ``log`` kind, so the installer's tools and
the virtual pile's rig can read what the firmware did. Alarms are also kept
in a short queue that the cloud link sends up (``alarms``).
"""

import json

from firmware.compat import const

_ALARMS_KEPT = const(16)

# (alarm, port, detail[, state]) waiting for the cloud link; the oldest go first when it is full.
alarms: list = []


def log(kind, **fields):
    """Print one log record of ``kind``."""
    fields["log"] = kind
    print(json.dumps(fields))


def note(message):
    """A free-text line, e.g. a rejected configuration."""
    log("note", text=message)


def alarm(name, port=0, detail="", state=None, **fields):
    """Log an alarm and queue it for the cloud (``port`` 0 is the whole pile).

    ``state`` is 1 when a condition is raised and 0 when it clears (the bridge keeps one open alarm
    per pile, port and name); None for a one-off event.
    """
    if state is not None:
        fields["state"] = state
    log("alarm", alarm=name, port=port, detail=detail, **fields)
    if len(alarms) >= _ALARMS_KEPT:
        alarms.pop(0)
    alarms.append((name, port, detail) if state is None else (name, port, detail, state))
