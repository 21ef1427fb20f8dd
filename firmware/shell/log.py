"""Structured log lines on the console (the USB REPL on a board, stdout in the sim).

One JSON object per line, with a ``log`` kind, so the installer's tools and
the virtual pile's rig can read what the firmware did. Alarms are also kept
in a short queue that the cloud link sends up (``alarms``).
"""

import json

from firmware.compat import const

_ALARMS_KEPT = const(16)

# (alarm, port, detail[, state[, numbers]]) waiting for the cloud link; the oldest go first when it is full.
alarms: list = []


def log(kind, **fields):
    """Print one log record of ``kind``."""
    fields["log"] = kind
    print(json.dumps(fields))


def note(message):
    """A free-text line, e.g. a rejected configuration."""
    log("note", text=message)


def alarm(name, port=0, detail="", state=None, numbers=None, **fields):
    """Log an alarm and queue it for the cloud (``port`` 0 is the whole pile).

    ``state`` is 1 when a condition is raised and 0 when it clears (the bridge keeps one open alarm
    per pile, port and name); None for a one-off event. ``numbers``: the phone numbers an
    ``sms_sent`` report names (docs/cloud-protocol.md).
    """
    if state is not None:
        fields["state"] = state
    if numbers is not None:
        fields["numbers"] = numbers
    log("alarm", alarm=name, port=port, detail=detail, **fields)
    if len(alarms) >= _ALARMS_KEPT:
        alarms.pop(0)
    if numbers is not None:
        alarms.append((name, port, detail, state, numbers))
    elif state is not None:
        alarms.append((name, port, detail, state))
    else:
        alarms.append((name, port, detail))
