"""``cloud-bridge`` sites, contacts, notify --once, alarms and their acknowledgement, on both backends."""

from __future__ import annotations

import json
import time

import cbor2

from cloud_bridge.cli import main
from cloud_bridge.cli_alarms import SECRET_ENV
from cloud_bridge.schema import decode
from cloud_bridge.store import Store
from tests.bridge.piles import T0
from tests.bridge.webhook_receiver import WebhookReceiver


def test_contacts_notify_and_acknowledge_from_the_command_line(db, capsys, monkeypatch):
    def run(*args: str, status: int = 0) -> str:
        assert main([*args, "--db", db.url]) == status
        return capsys.readouterr().out

    run("sites", "set", "p1", "--site", "小区A", "--label", "3号桩")
    run("contacts", "add", "小区A", "--name", "王经理", "--number", "+86 13800000001", "--level", "1")
    run("contacts", "add", "小区A", "--name", "赵总", "--number", "13900000009", "--class", "critical", "--level", "2")
    run(
        "contacts", "add", "小区A", "--name", "王", "--number", "13800000001", "--class", "critical", status=1
    )  # listed
    listed = json.loads(run("contacts", "list", "--json"))
    assert [(c["name"], c["number"], c["alarm_class"], c["level"]) for c in listed] == [
        ("王经理", "13800000001", "critical", 1),
        ("赵总", "13900000009", "critical", 2),
        ("王经理", "13800000001", "normal", 1),
    ]
    assert run("sites", "list") == "小区A: p1 3号桩\n"
    body = {0: 1, 1: 1, 2: T0, 3: "fuse_blown", 4: 0, 5: "", 6: 1}
    Store(db).write([(decode("pile/p1/up/alarm", cbor2.dumps(body)), time.time())])
    with WebhookReceiver(b"k3y") as hook:
        monkeypatch.setenv(SECRET_ENV, "k3y")
        assert run("notify", "--provider", hook.url, "--once") == "taken 1, sent 1, failed 0, capped 0, by the pile 0\n"
        assert [b["to"] for b in hook.bodies] == ["13800000001"]
    (alarm,) = json.loads(run("alarms", "--json"))
    assert (alarm["pile"], alarm["alarm"], alarm["acknowledged_at"]) == ("p1", "fuse_blown", None)
    assert "#%d p1 port 0 fuse_blown (critical) open since" % alarm["id"] in run("alarms")
    assert run("alarms", "ack", str(alarm["id"]), "--by", "王经理") == "alarm %d acknowledged by 王经理\n" % alarm["id"]
    assert json.loads(run("alarms", "--json"))[0]["acknowledged_by"] == "王经理"
    assert "no open alarm 99" in run("alarms", "ack", "99", "--by", "x", status=1)
    (sent,) = json.loads(run("alarms", "history", str(alarm["id"]), "--json"))
    assert (sent["kind"], sent["status"], sent["text"]) == (
        "open",
        "sent",
        "【充电桩告警】小区A 3号桩 保险丝熔断 2025-10-09 16:53",
    )
    run("contacts", "remove", str(listed[1]["id"]))
    assert len(json.loads(run("contacts", "list", "--site", "小区A", "--json"))) == 2
    assert "no contact" in run("contacts", "remove", "99", status=1)
