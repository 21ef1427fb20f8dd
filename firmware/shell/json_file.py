"""A settings file read at boot (``config.json``, ``identity.json``): its JSON, or None and the reason logged."""

import json

from firmware.shell.log import note


def read_json(path, what, when_absent):
    """The value in ``path``; None, with a note, if it is absent (``when_absent`` says what then) or not JSON."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except OSError:
        note("no %s at %s: %s" % (what, path, when_absent))
    except ValueError as error:
        note("%s rejected: %s is not valid JSON (%s)" % (what, path, error))
    return None
