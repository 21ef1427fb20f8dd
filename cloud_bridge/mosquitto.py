"""A private mosquitto on a free port of 127.0.0.1, with its own configuration: for tests and the benchmark."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mosquitto:
    """``with Mosquitto("max_queued_messages 0") as broker: ... broker.port``.

    Anonymous clients are allowed unless ``users`` (name: password) is given. ``persistent``: sessions
    and queued messages survive ``restart()``, as on a production broker. ``config_file``: a whole
    configuration of the caller's (e.g. from ``pilectl broker``) that listens on ``port``.
    """

    def __init__(
        self,
        extra_config: str = "",
        users: dict[str, str] | None = None,
        persistent: bool = False,
        config_file: Path | None = None,
        port: int = 0,
    ) -> None:
        self.extra_config = extra_config
        self.users = users
        self.persistent = persistent
        self.config_file = config_file
        self.port = port
        self._folder: Path | None = None
        self._process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 5.0) -> Mosquitto:
        """Start it and wait until it accepts connections."""
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="mosquitto-"))
            if self.config_file is None:
                self.port = free_port()
                self._write_config()
        config = self.config_file or self._folder / "mosquitto.conf"
        with (self._folder / "mosquitto.log").open("ab") as log:
            self._process = subprocess.Popen(
                [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(config)],
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self._process.poll() is None:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.02)
        output = (self._folder / "mosquitto.log").read_text()
        self.stop()
        raise RuntimeError("mosquitto did not start: %s" % output)

    def _write_config(self) -> None:
        # Started as root, mosquitto would switch to its own user, which cannot read our folder.
        lines = ["listener %d 127.0.0.1" % self.port, "user %s" % getpass.getuser()]
        if self.persistent:
            lines += ["persistence true", "persistence_location %s/" % self._folder]
        else:
            lines.append("persistence false")
        if self.users is None:
            lines.append("allow_anonymous true")
        else:
            passwords = self._folder / "passwords"
            passwords.touch()
            for name, password in self.users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(passwords), name, password], check=True)
            lines += ["allow_anonymous false", "password_file %s" % passwords]
        (self._folder / "mosquitto.conf").write_text("\n".join(lines + [self.extra_config, ""]))

    def restart(self) -> None:
        """Stop it (cleanly: a persistent one saves its sessions) and start it again on the same port."""
        self.end_process()
        self.start()

    def end_process(self) -> None:
        """Stop the broker but keep its folder and port: ``start()`` brings the same broker back."""
        if self._process is not None:
            self._process.terminate()
            self._process.wait(5)
            self._process = None

    def stop(self) -> None:
        """Stop it and remove its folder."""
        self.end_process()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
