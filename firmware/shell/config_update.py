"""A config command, staged by firmware/shell/remote.py and applied at the next boot (boot-only).

Checking a config needs firmware/config.py, more heap than a running pile
can lend, so the command only stages it (``<config>.next``) and the pile
restarts once no port is busy. At boot, before the config is read, the
staged settings are merged over the site's and the whole is validated: if
anything is wrong nothing changes; if not, the config file is replaced
atomically (temporary file, then rename). The answer waits in
``<config>.answer`` until the flash with the command ledger is mounted; it
is then remembered there (a replay gets it again) and sent. A cut at any
step repeats it: the merge is the same again, and a staged file is only
removed once its answer is written.
"""

import json
import os

from firmware.compat import const
from firmware.shell.json_file import read_json
from firmware.shell.log import alarm, log, note
from firmware.shell.settings import exists

_SEPARATOR = const("; ")

STAGED = ".next"
ANSWER = ".answer"
# firmware/cloud/commands.py's result codes, repeated so that a boot need not load that module early.
DONE = const(0)
BAD_CONFIG = const(6)


def write_json(path, value):
    """Replace ``path`` with ``value`` as JSON, atomically (a temporary file renamed over it)."""
    with open(path + ".tmp", "w") as handle:
        handle.write(json.dumps(value))
    os.rename(path + ".tmp", path)


def apply_staged(config, config_path):
    """Before the config is read at boot: apply a staged change, or refuse it whole (``config`` is
    firmware/config.py, already loaded by the boot)."""
    staged_path = config_path + STAGED
    if not exists(staged_path):
        return
    staged = read_json(staged_path, "staged config", "ignored")
    try:
        command_id = staged["id"]
        version = staged["version"]
        site = read_json(config_path, "config", "field defaults")
        merged = site if isinstance(site, dict) else {}
        merged.update(staged["settings"])
        merged["CONFIG_VERSION"] = version
    except (KeyError, TypeError, ValueError) as error:
        note("staged config is not ours (%r); removed" % (error,))
        os.remove(staged_path)
        return
    errors = config.validate(merged)
    if errors:
        for message in errors:
            note("config %d rejected: %s" % (version, message))
        answer = [command_id, BAD_CONFIG, _SEPARATOR.join(errors), None]
    else:
        write_json(config_path, merged)
        log("config", version=version, id=command_id)
        answer = [command_id, DONE, "", version]
    write_json(config_path + ANSWER, answer)
    os.remove(staged_path)


def take_answer(config_path, store):
    """Once the flash is mounted: the answer to a config command applied at this boot, remembered in the
    command ledger; None if there is none."""
    answer_path = config_path + ANSWER
    if not exists(answer_path):
        return None
    answer = read_json(answer_path, "config answer", "dropped")
    if not isinstance(answer, list) or len(answer) != 4:
        os.remove(answer_path)
        return None
    from firmware.cloud.commands import Ledger

    ledger = Ledger(store.commands())
    if ledger.answer(answer[0]) is None:
        ledger.remember(answer[0], answer[1], answer[2])
        try:
            store.save_commands(ledger.record())
        except OSError as error:
            alarm("flash_fault", detail=repr(error))
            return tuple(answer)
    os.remove(answer_path)
    return tuple(answer)
