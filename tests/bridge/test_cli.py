"""``cloud-bridge``: the query commands on both backends; ``run`` with a broker password, and its stop; keys,
commands, config and meter readings."""

from __future__ import annotations

import json
import signal

import pytest

from cloud_bridge.channel import CommandChannel
from cloud_bridge.cli import PASSWORD_ENV, main
from cloud_bridge.db import Database
from cloud_bridge.mosquitto import Mosquitto
from tests.bridge.command_pile import CommandPile
from tests.bridge.helpers import bridge_process, count, run_args, wait_until
from tests.bridge.piles import Pile
from tools import broker_accounts


def test_orders_gaps_and_presence(start_bridge, pile, db, capsys):
    bridge = start_bridge()
    p1, p2 = pile("p1"), pile("p2")
    p1.connect_records()
    p1.order(17)
    p1.skip(2)
    p1.order(18, port=5)
    p2.order(1)
    wait_until(lambda: bridge.committed == 5)

    def run(*args: str) -> str:
        assert main([*args, "--db", db.url]) == 0
        return capsys.readouterr().out

    orders = json.loads(run("orders", "--json"))
    assert [(o["pile"], o["order_no"], o["port"]) for o in orders] == [("p1", 17, 3), ("p1", 18, 5), ("p2", 1, 3)]
    lines = run("orders", "--pile", "p1").splitlines()
    assert len(lines) == 2 and lines[1].startswith("p1 #18 port 5 coin") and lines[1].endswith("fen, full")
    assert "paid 200 used 150 returned 50 fen" in lines[1]
    assert "p1 boot 1: seq 3..4 missing (2)" in run("gaps")
    assert run("gaps", "--pile", "p2") == ""
    assert "p1 boot 1 connection 1 online" in run("presence", "--pile", "p1")
    assert json.loads(run("presence", "--pile", "p1", "--json"))[0]["online"] is True


@pytest.fixture
def guarded_broker():
    """A broker that wants passwords."""
    with Mosquitto(users={"bridge": "s3cret", "p1": "pile-secret"}) as running:
        yield running


def test_run_takes_the_password_from_a_file_and_stops_cleanly(guarded_broker, tmp_path):
    db = Database("sqlite:///%s" % (tmp_path / "bridge.db"))
    (tmp_path / "password").write_text("s3cret\n")
    options = ("--user", "bridge", "--password-file", str(tmp_path / "password"))
    process, _ = bridge_process(run_args(guarded_broker.port, db.url, *options), "ingesting")
    p1 = Pile(guarded_broker.port, "p1", password="pile-secret")
    try:
        p1.order(1)
        wait_until(lambda: count(db, "orders") == 1, what="the order stored")
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        process.kill()
        p1.close()


def test_run_takes_the_password_from_the_environment_and_exits_when_refused(guarded_broker, tmp_path):
    args = run_args(guarded_broker.port, "sqlite:///%s" % (tmp_path / "bridge.db"), "--user", "bridge")
    process, _ = bridge_process(args, "ingesting", env={PASSWORD_ENV: "s3cret"})
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0
    refused, output = bridge_process(args, "refused", env={PASSWORD_ENV: "wrong"})
    assert refused.wait(10) == 1, output


def test_keys_commands_config_and_meter_from_the_command_line(start_bridge, broker, db, tmp_path, capsys):
    credentials = broker_accounts.add_pile(tmp_path / "broker", "p1")
    key_file = str(tmp_path / "broker" / "piles" / "p1.json")
    channel = CommandChannel(start_bridge(), sweep_s=0.05).start()
    pile = CommandPile(broker.port, "p1", bytes.fromhex(credentials["key"]))
    outputs = []
    try:

        def run(*args: str, status: int = 0) -> str:
            assert main([*args, "--db", db.url]) == status
            outputs.append(capsys.readouterr().out)
            return outputs[-1]

        assert (
            run("command", "reboot", "p1", status=1) == "cloud-bridge: no key for pile 'p1' (cloud-bridge pile add)\n"
        )
        assert run("pile", "add", "p1", "--key-file", key_file) == "pile p1: key added\n"
        assert run("pile", "add", "p2", "--key-file", key_file, status=1).startswith("cloud-bridge: ")
        assert run("pile", "list") == "p1\n"
        out = run("command", "start", "p1", "--port", "3", "--credit", "200", "--reference", "pay-1", "--wait", "10")
        assert out.splitlines()[-1].startswith(
            'p1 #1 start {"credit": 200, "port": 3, "reference": "pay-1"} done data 101'
        )
        assert "p1 #2 query {} done" in run("command", "query", "p1", "--wait", "10")
        out = run("config", "set", "p1", "PRICE_FEN=120", "TARIFF_MODE=tier", "TIERS=[[200,300]]", "--wait", "10")
        assert "config version 1 desired, command 3 queued" in out and "p1 #3 config" in out
        assert pile.config == {"PRICE_FEN": 120, "TARIFF_MODE": "tier", "TIERS": [[200, 300]]}
        wait_until(lambda: json.loads(run("config", "show", "p1", "--json"))["applied_version"] == 1, what="applied")
        assert "  PRICE_FEN=120\n" in run("config", "show", "p1")
        assert [c["state"] for c in json.loads(run("commands", "p1", "--json"))] == ["done", "done", "done"]
        assert run("commands", "p1").splitlines()[0].startswith("p1 #3 config")
        pile.record("meter", {3: 123456, 4: 2301, 5: -800, 6: -184})
        wait_until(lambda: count(db, "meters") == 1, what="the meter reading")
        assert "123456 Wh, 230.1 V, -800 mA, -184 W" in run("meter", "p1")
        assert not any(credentials["key"] in out for out in outputs)
    finally:
        pile.close()
        channel.stop()
