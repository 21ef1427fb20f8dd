"""Broker accounts (tools/broker_accounts.py) against a real mosquitto started with the generated config.

The acceptance: pile A can neither publish as pile B nor read pile B's topics. MQTT 3.1.1 gives no
sign of a refused publish (mosquitto acknowledges it and drops it) and none of a message not
delivered, so each "nothing arrived" is proved by a marker sent after it on an allowed path: the
observer must get the marker and nothing before it.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from tools import broker_accounts as accounts

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
WAIT_S = 5


class Peer:
    """A paho client (MQTT 3.1.1) with a background loop; CONNACK, SUBACKs and messages land in queues."""

    def __init__(self, port: int, user: str | None, password: str | None, client_id: str = "", **options):
        self.connacks: queue.Queue = queue.Queue()
        self.subacks: queue.Queue = queue.Queue()
        self.messages: queue.Queue = queue.Queue()
        self.disconnects: queue.Queue = queue.Queue()
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311, **options
        )
        if user is not None:
            self.client.username_pw_set(user, password)
        self.client.on_connect = lambda _c, _u, _f, code, _p: self.connacks.put(code)
        self.client.on_subscribe = lambda _c, _u, _m, codes, _p: self.subacks.put(codes)
        self.client.on_message = lambda _c, _u, message: self.messages.put((message.topic, message.payload))
        self.client.on_disconnect = self._on_disconnect
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.connack = self.connacks.get(timeout=WAIT_S)

    def _on_disconnect(self, client, _userdata, _flags, code, _properties) -> None:
        self.disconnects.put(code)
        client.loop_stop()  # no reconnecting: a dropped connection is a result the test looks at

    def subscribe(self, *topics: str) -> None:
        self.client.subscribe([(topic, 1) for topic in topics])
        self.subacks.get(timeout=WAIT_S)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Publish at QoS 1 and wait for the PUBACK (which mosquitto sends even for a dropped publish)."""
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(WAIT_S)

    def until(self, topic: str) -> list[tuple[str, bytes]]:
        """Everything received up to and including the first message on ``topic``."""
        got = [self.messages.get(timeout=WAIT_S)]
        while got[-1][0] != topic:
            got.append(self.messages.get(timeout=WAIT_S))
        return got

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Site:
    """A mosquitto of the test's own, on a free port, with accounts for the bridge and piles A and B."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.credentials = accounts.create_site(folder / "broker", ["A", "B"])
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        (folder / "db").mkdir()
        self.conf = accounts.broker_config(folder / "broker", self.port, folder / "db")
        self.peers: list[Peer] = []
        self.start()

    def start(self) -> None:
        with open(self.folder / "mosquitto.log", "a") as log:
            self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stderr=log)
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            assert self.process.poll() is None, (self.folder / "mosquitto.log").read_text()
            time.sleep(0.02)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(WAIT_S)

    def password(self, user: str) -> str:
        if user == self.credentials["bridge"]["user"]:
            return self.credentials["bridge"]["password"]
        return self.credentials["piles"][user]["password"]

    def attempt(self, user: str | None, password: str | None, **options) -> Peer:
        peer = Peer(self.port, user, password, **options)
        self.peers.append(peer)
        return peer

    def connect(self, user: str, password: str | None = None, **options) -> Peer:
        """Connect with the user's own password (or the one given); the broker must accept it."""
        peer = self.attempt(user, password or self.password(user), **options)
        assert not peer.connack.is_failure, f"{user} refused: {peer.connack}"
        return peer

    def reload_until_refused(self, user: str, password: str) -> None:
        """SIGHUP mosquitto and wait until the reload shows: ``user`` with ``password`` is refused."""
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + WAIT_S
        while not self.attempt(user, password).connack.is_failure:
            assert time.monotonic() < deadline, "the reload never refused the old password"
            time.sleep(0.02)


@pytest.fixture
def site(tmp_path):
    site = Site(tmp_path)
    yield site
    for peer in site.peers:
        peer.close()
    site.stop()


def bridge(site: Site) -> Peer:
    """The bridge's account, subscribed as the cloud bridge would be."""
    peer = site.connect("bridge")
    peer.subscribe("pile/+/up/#")
    return peer


def test_a_pile_publishes_its_records_and_gets_its_commands(site):
    assert (site.folder / "broker" / "passwd").read_text().startswith("bridge:$7$101$")  # our hash, not a tool's
    cloud = bridge(site)
    pile = site.connect("A")
    pile.subscribe("pile/A/down/#")
    pile.publish("pile/A/up/order", b"order 1")
    assert cloud.until("pile/A/up/order") == [("pile/A/up/order", b"order 1")]
    cloud.publish("pile/A/down/stop", b"port 3")
    assert pile.until("pile/A/down/stop") == [("pile/A/down/stop", b"port 3")]


@pytest.mark.parametrize(
    "user, password",
    [
        ("A", lambda site: "wrong"),
        ("A", lambda site: site.password("B")),
        ("C", lambda site: site.password("A")),
        ("A", lambda site: None),
        (None, lambda site: None),
    ],
    ids=["wrong-password", "other-piles-password", "unknown-user", "no-password", "anonymous"],
)
def test_a_connection_without_the_right_password_is_refused(site, user, password):
    assert site.attempt(user, password(site)).connack.is_failure


def test_a_pile_cannot_publish_as_another_pile(site):
    cloud = bridge(site)
    pile = site.connect("A")
    pile.publish("pile/B/up/order", b"forged order")
    pile.publish("pile/B/up/status", b"forged status", retain=True)
    cloud.publish("pile/B/up/order", b"the bridge forging")  # the bridge writes only commands
    pile.publish("pile/A/up/order", b"marker")
    assert cloud.until("pile/A/up/order") == [("pile/A/up/order", b"marker")]


def test_a_pile_cannot_leave_a_will_in_another_piles_name(site):
    cloud = bridge(site)

    def die_with_will(topic: str) -> None:
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
        client.username_pw_set("A", site.password("A"))
        client.will_set(topic, b"offline", qos=1, retain=True)
        client.connect("127.0.0.1", site.port)
        deadline = time.monotonic() + WAIT_S
        while not client.is_connected() and time.monotonic() < deadline:
            client.loop(0.05)
        client.socket().close()  # no DISCONNECT: the broker publishes the will, if the ACL lets it

    die_with_will("pile/B/up/status")
    die_with_will("pile/A/up/status")  # the control: an allowed will does arrive, and first
    site.connect("A").publish("pile/A/up/birth", b"marker")
    assert cloud.until("pile/A/up/birth") == [("pile/A/up/status", b"offline"), ("pile/A/up/birth", b"marker")]


def test_a_pile_reads_nothing_but_its_own_commands(site):
    cloud = site.connect("bridge")
    other = site.connect("B")
    other.subscribe("pile/B/down/#")
    other.publish("pile/B/up/status", b"online", retain=True)
    pile = site.connect("A")
    pile.subscribe("pile/B/down/#", "pile/B/up/#", "pile/#", "#")
    cloud.publish("pile/B/down/stop", b"for B")
    assert other.until("pile/B/down/stop") == [("pile/B/down/stop", b"for B")]
    other.publish("pile/B/up/order", b"B's order")
    pile.publish("pile/A/up/order", b"A's own order")  # written, not to be read back
    cloud.publish("pile/A/down/stop", b"marker")
    assert pile.until("pile/A/down/stop") == [("pile/A/down/stop", b"marker")]


def test_commands_come_only_from_the_bridge(site):
    cloud = site.connect("bridge")
    piles = {name: site.connect(name) for name in "AB"}
    for pile in piles.values():
        pile.subscribe(f"pile/{pile.client.username}/down/#")
    piles["A"].publish("pile/A/down/stop", b"own forged command")
    piles["A"].publish("pile/B/down/stop", b"forged command")
    for name, pile in piles.items():
        cloud.publish(f"pile/{name}/down/stop", b"marker")
        assert pile.until(f"pile/{name}/down/stop") == [(f"pile/{name}/down/stop", b"marker")]


def test_a_pile_cannot_take_over_another_piles_session(site):
    other = site.connect("B", client_id="pile-B", clean_session=False)
    other.subscribe("pile/B/down/#")
    site.connect("A", client_id="pile-B", clean_session=False)  # the broker names it A, not pile-B
    site.connect("bridge").publish("pile/B/down/stop", b"for B")
    assert other.until("pile/B/down/stop") == [("pile/B/down/stop", b"for B")]
    assert other.disconnects.empty()


def test_queued_commands_survive_a_broker_restart(site):
    pile = site.connect("A", client_id="pile-A", clean_session=False)
    pile.subscribe("pile/A/down/#")
    pile.close()
    site.connect("bridge").publish("pile/A/down/stop", b"while away")
    site.stop()
    site.start()
    pile = site.connect("A", client_id="pile-A", clean_session=False)
    assert pile.until("pile/A/down/stop") == [("pile/A/down/stop", b"while away")]


def test_rotate_locks_the_old_password_out_at_the_reload(site):
    old = site.password("A")
    connected = site.connect("A")
    new = accounts.rotate(site.folder / "broker", "A")["password"]
    assert site.attempt("A", new).connack.is_failure  # nothing changes before the reload
    site.reload_until_refused("A", old)
    site.connect("A", new)
    connected.disconnects.get(timeout=WAIT_S)  # mosquitto 2.0 also drops a session whose password went stale
    site.connect("B")


def test_a_removed_pile_is_locked_out(site):
    accounts.remove_pile(site.folder / "broker", "A")
    site.reload_until_refused("A", site.password("A"))
    assert not (site.folder / "broker" / "piles" / "A.json").exists()
    assert "A:" not in (site.folder / "broker" / "passwd").read_text()
    site.connect("B")


@pytest.mark.parametrize("bad", ["", "x" * 33, "a/b", "a+b", "#", "a b", "A:B", "%u", "ü"])
def test_an_invalid_pile_id_is_refused(tmp_path, capsys, bad):
    assert accounts.main(["--dir", str(tmp_path), "add-pile", bad]) == 1
    assert f"invalid pile id {bad!r}: use 1 to 32 of A-Z a-z 0-9 _ -" in capsys.readouterr().err
    assert not (tmp_path / "accounts.json").exists()


def test_duplicates_and_unknown_piles_are_refused_and_change_nothing(tmp_path, capsys):
    folder = str(tmp_path)
    assert accounts.main(["--dir", folder, "add-pile", "x" * 32]) == 0
    assert accounts.main(["--dir", folder, "add-pile", "A-1_b"]) == 0
    assert accounts.main(["--dir", folder, "bridge"]) == 0
    before = {path.name: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    for argv, message in [
        (["add-pile", "A-1_b"], "pile 'A-1_b' already has an account (rotate gives it a new password)"),
        (["add-pile", "bridge"], "'bridge' is the bridge's user name"),
        (["bridge", "--user", "A-1_b"], "'A-1_b' is a pile's user name"),
        (["rotate", "C"], "no pile 'C'"),
        (["remove-pile", "C"], "no pile 'C'"),
    ]:
        capsys.readouterr()
        assert accounts.main(["--dir", folder, *argv]) == 1, argv
        assert message in capsys.readouterr().err
    assert {path.name: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()} == before


def test_secrets_are_0600_and_only_in_the_credentials_files(tmp_path, capsys):
    folder = tmp_path / "broker"
    site = accounts.create_site(folder, ["A", "B"])
    assert accounts.main(["--dir", str(folder), "write", "--port", "8883", "--persistence", str(tmp_path)]) == 0
    assert accounts.main(["--dir", str(folder), "list"]) == 0
    assert capsys.readouterr().out.splitlines()[-3:] == ["bridge bridge", "pile A", "pile B"]

    def mode(name: str) -> int:
        return stat.S_IMODE((folder / name).stat().st_mode)

    for name in ["accounts.json", "passwd", "bridge.json", "piles/A.json", "piles/B.json"]:
        assert mode(name) == 0o600, name
    assert mode("piles") == 0o700
    assert mode("acl") == mode("mosquitto.conf") == 0o644
    assert not list(folder.rglob("*.tmp"))
    conf = (folder / "mosquitto.conf").read_text()
    assert "allow_anonymous false\n" in conf and "listener 8883\n" in conf and "\nuser " not in conf
    passwords = [site["bridge"]["password"]] + [pile["password"] for pile in site["piles"].values()]
    passwords += [pile["key"] for pile in site["piles"].values()]
    for name in ["accounts.json", "passwd", "acl", "mosquitto.conf"]:
        assert not any(password in (folder / name).read_text() for password in passwords), name
    assert site["bridge"].keys() == {"user", "password"}  # the bridge signs with each pile's key, has none


def test_each_pile_gets_its_own_command_key_which_rotate_keeps(tmp_path, capsys):
    folder = tmp_path / "broker"
    assert accounts.main(["--dir", str(folder), "add-pile", "A"]) == 0
    assert "cloud-bridge pile add A --key-file" in capsys.readouterr().out
    first = json.loads((folder / "piles" / "A.json").read_text())
    other = accounts.add_pile(folder, "B")
    assert first.keys() == {"pile", "user", "password", "key"}
    assert len(bytes.fromhex(first["key"])) == 32 and first["key"] == first["key"].lower()
    assert other["key"] != first["key"]
    rotated = accounts.rotate(folder, "A")
    assert (rotated["key"], rotated["new_key"]) == (first["key"], False) and rotated["password"] != first["password"]
    assert json.loads((folder / "piles" / "A.json").read_text())["key"] == first["key"]
    # Rotating after the credentials file was handed over and deleted: the key is gone, a new one is made.
    (folder / "piles" / "A.json").unlink()
    assert accounts.main(["--dir", str(folder), "rotate", "A"]) == 0
    assert "a new command key" in capsys.readouterr().out
    renewed = json.loads((folder / "piles" / "A.json").read_text())["key"]
    assert renewed != first["key"] and len(renewed) == 64


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_rewrite_keeps_the_owner_the_operator_gave_passwd(tmp_path):
    folder = tmp_path / "broker"
    accounts.create_site(folder, ["A"])
    os.chown(folder / "passwd", 4242, 4243)  # as `chown mosquitto: passwd` would
    accounts.rotate(folder, "A")
    owner = (folder / "passwd").stat()
    assert (owner.st_uid, owner.st_gid, stat.S_IMODE(owner.st_mode)) == (4242, 4243, 0o600)
