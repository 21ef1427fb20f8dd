"""The pile's settings files, read once at boot before the rest of the firmware is imported.

``identity.json`` (firmware/shell/identity.py: who the pile is, its broker
account and CA) and ``config.json`` (site settings, checked by
firmware/config.py). They are read first, the identity's TLS context made
while the heap is still in one piece, and the modules that read them are then
forgotten, so their code is out of the heap while the rest of the firmware
loads and the flash is restored: the boot's peak.
"""

import gc
import os
import sys

from firmware.compat import const
from firmware.shell.log import note

_READERS = const(
    (
        "firmware.shell.identity",
        "firmware.config",
        "firmware.shell.json_file",
        "firmware.shell.config_update",
    )
)


def load(config_path, identity_path):
    """(cfg, identity or None, TLS context or None); None turns the cloud link off."""
    from firmware.shell import identity as identity_file

    identity, tls = identity_file.load(identity_path)
    from firmware import config
    from firmware.shell.json_file import read_json

    if exists(config_path + ".next"):
        # A config command's change, checked now while the heap is free (firmware/shell/config_update.py).
        from firmware.shell.config_update import apply_staged

        apply_staged(config, config_path)
    cfg = config.load(read_json(config_path, "config", "field defaults"), note)
    forget(_READERS)
    return cfg, identity, tls


def exists(path):
    """True if ``path`` names a file or folder."""
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def forget(names):
    """Drop modules (imported again if ever needed) and collect: their code leaves the heap."""
    for name in names:
        sys.modules.pop(name, None)
        package, _, leaf = name.rpartition(".")
        parent = sys.modules.get(package)
        if parent is not None and leaf in parent.__dict__:
            delattr(parent, leaf)
    gc.collect()
