"""The notifier end to end on both backends: alarm records stored the way the bridge stores them (through
the broker and the bridge, or its store), then rounds against the SMPP emulator and the webhook receiver."""

from __future__ import annotations

import time

import cbor2
import pytest

from cloud_bridge import alarm_contacts, alarm_ledger
from cloud_bridge.alarm_settings import NotifierSettings
from cloud_bridge.alarm_tables import create_alarm_tables
from cloud_bridge.notifier import Notifier
from cloud_bridge.schema import decode
from cloud_bridge.sms.smpp import SmppProvider
from cloud_bridge.sms.webhook import WebhookProvider
from cloud_bridge.store import Store
from tests.bridge.helpers import count, wait_until
from tests.bridge.piles import T0
from tests.bridge.smpp_emulator import SmppEmulator
from tests.bridge.webhook_receiver import WebhookReceiver

WANG, LI, ZHAO = "13800000001", "13800000002", "13900000009"
# Quiet hours off, so that the tests do not depend on the time of day they run at.
SETTINGS = NotifierSettings(
    repeat_s=600,
    escalate_after_s=300,
    daily_cap=20,
    quiet_start="00:00",
    quiet_end="00:00",
    flap_hold_s=60,
    pile_sms_grace_s=120,
    retry_s=30,
    offline_after_s=600,
)


class Clock:
    """The notifier's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def site(db):
    """Pile p1 at 小区A as 3号桩; 王 and 李 at level 1 for both classes, 赵 at level 2 for critical ones."""
    create_alarm_tables(db)
    alarm_contacts.set_site(db, "p1", "小区A", "3号桩", 0.0)
    for name, number, classes, level in (
        ("王", "+86 " + WANG, ("critical", "normal"), 1),
        ("李", LI, ("critical", "normal"), 1),
        ("赵", ZHAO, ("critical",), 2),
    ):
        for alarm_class in classes:
            alarm_contacts.add_contact(db, "小区A", alarm_class, level, name, number, 0.0)
    return db


@pytest.fixture
def centre():
    with SmppEmulator() as running:
        yield running


@pytest.fixture
def hook():
    with WebhookReceiver(b"shared") as running:
        yield running


class Records:
    """Stores a pile's records through the bridge's store, as its writer does with what the broker delivers."""

    def __init__(self, db, clock: Clock) -> None:
        self.store, self.clock, self.seq = Store(db), clock, 0

    def alarm(self, name: str, port: int = 0, state: int | None = None, detail: str = "", numbers=None) -> None:
        self.seq += 1
        body = {0: 1, 1: self.seq, 2: T0 + self.seq, 3: name, 4: port, 5: detail}
        body.update({6: state} if state is not None else {})
        body.update({7: numbers} if numbers is not None else {})
        self.store.write([(decode("pile/p1/up/alarm", cbor2.dumps(body)), self.clock.now)])

    def status(self, boot: int, online: bool) -> None:
        message = decode("pile/p1/up/status", cbor2.dumps({0: boot, 1: 1, 2: T0, 3: online}))
        self.store.write([(message, self.clock.now)])


def statuses(db, alarm_id: int | None = None) -> list[tuple[str, str, str]]:
    """(number, kind, status) of each message decided, oldest first."""
    return [(n["number"], n["kind"], n["status"]) for n in reversed(alarm_ledger.notifications(db, alarm_id))]


def test_an_alarm_from_a_pile_through_the_bridge_is_texted_over_smpp_and_so_is_its_clear(
    site, centre, start_bridge, pile
):
    bridge = start_bridge()
    p1 = pile("p1")
    p1.record("alarm", {3: "meter_lost", 4: 0, 5: "no reading for 5 s", 6: 1})
    wait_until(lambda: bridge.committed == 1, what="the alarm stored")
    clock = Clock()
    provider = SmppProvider("127.0.0.1", centre.port, "bridge", "secret", timeout_s=2)
    notifier = Notifier(site, provider, SETTINGS, clock)
    try:
        assert notifier.round().sent == 2
        opened = "【充电桩告警】小区A 3号桩 电表通信中断 2025-10-09 16:53"  # T0 + 1 s in Beijing
        assert [(m.destination, m.text) for m in centre.messages] == [(WANG, opened), (LI, opened)]
        clock.now += 1
        assert notifier.round().taken == 0 and len(centre.messages) == 2  # nothing new, nothing due
        p1.record("alarm", {3: "meter_lost", 4: 0, 5: "", 6: 0})
        wait_until(lambda: bridge.committed == 2, what="the clear stored")
        clock.now = time.time() + 59
        assert notifier.round().sent == 0  # the flap hold
        clock.now += 1
        assert notifier.round().sent == 2
        assert {m.text for m in centre.messages[2:]} == {
            "【充电桩恢复】小区A 3号桩 电表通信中断已恢复 " + _local(clock.now - 60)
        }
        clock.now += 1
        notifier.round()
    finally:
        provider.close()
    (alarm,) = alarm_ledger.listing(site, everything=True)
    assert alarm["closed_at"] == clock.now and alarm["raised"] == 1
    assert statuses(site) == [
        (WANG, "open", "sent"),
        (LI, "open", "sent"),
        (WANG, "clear", "sent"),
        (LI, "clear", "sent"),
    ]
    assert alarm_ledger.notifications(site)[-1]["message_id"] == "m1"


def _local(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(at + 8 * 3600))


def test_the_pile_sms_is_not_repeated_and_the_rest_get_it_after_the_grace_over_the_webhook(site, hook):
    clock = Clock()
    records = Records(site, clock)
    notifier = Notifier(site, WebhookProvider(hook.url, b"shared", timeout_s=2), SETTINGS, clock)
    records.alarm("smoke", state=1)
    clock.now += 5
    records.alarm("sms_sent", detail="smoke", numbers=["+86" + WANG, "13700000000"])
    done = notifier.round()
    assert (done.taken, done.sent, done.by_pile) == (2, 0, 1) and hook.bodies == []
    clock.now += 115
    assert notifier.round().sent == 1
    (alarm,) = alarm_ledger.listing(site)
    assert hook.bodies == [
        {"to": LI, "text": "【充电桩告警】小区A 3号桩 烟雾报警 2025-10-09 16:53", "alarm_id": alarm["id"]}
    ]
    # Unacknowledged: 赵 is told after the escalation delay, everyone reminded after the repeat delay.
    clock.now += 300 - 120
    notifier.round()
    assert [b["to"] for b in hook.bodies] == [LI, ZHAO] and hook.bodies[1]["text"].startswith("【充电桩告警·升级】")
    alarm_ledger.acknowledge(site, alarm["id"], "王", clock.now)
    clock.now += 3600
    assert notifier.round().sent == 0  # acknowledged: no more repeats
    assert statuses(site) == [(WANG, "open", "pile"), (LI, "open", "sent"), (ZHAO, "escalation", "sent")]


def test_a_provider_failure_is_recorded_and_retried_next_round(site, hook):
    clock = Clock()
    records = Records(site, clock)
    notifier = Notifier(site, WebhookProvider(hook.url, b"shared", timeout_s=2), SETTINGS, clock)
    records.alarm("relay_welded", port=4, state=1)
    hook.fail_with = 500
    assert notifier.round().failed == 2
    clock.now += 29
    assert notifier.round().failed == 0  # waits retry_s
    hook.fail_with = 0
    clock.now += 1
    assert notifier.round().sent == 2
    assert [b["text"] for b in hook.bodies] == ["【充电桩告警】小区A 3号桩 4号口 继电器粘连 2025-10-09 16:53"] * 2
    assert statuses(site) == [
        (WANG, "open", "failed"),
        (LI, "open", "failed"),
        (WANG, "open", "sent"),
        (LI, "open", "sent"),
    ]
    failed = [n for n in alarm_ledger.notifications(site) if n["status"] == "failed"]
    assert all("500" in n["error"] and n["message_id"] is None for n in failed)


def test_the_daily_cap_holds_messages_back_and_the_next_one_says_how_many(site, hook):
    clock = Clock()
    records = Records(site, clock)
    settings = NotifierSettings(**{**SETTINGS.__dict__, "daily_cap": 1, "escalate_after_s": 10**6})
    notifier = Notifier(site, WebhookProvider(hook.url, b"shared", timeout_s=2), settings, clock)
    records.alarm("flash_fault")  # a one-off event
    records.alarm("heat_warn", state=1)
    done = notifier.round()
    assert (done.sent, done.capped) == (2, 2)  # one each for 王 and 李, the second alarm held back
    clock.now += 86400  # the next day: room again, and a repeat is due for both alarms
    done = notifier.round()
    assert (done.sent, done.capped) == (2, 2)
    texts = [b["text"] for b in hook.bodies[2:]]
    assert all(text.startswith("【充电桩告警·未确认】") and text.endswith("（另有1条超限未发）") for text in texts)
    assert count(site, "notifications", status="capped") == 4


def test_a_flapping_raise_and_clear_is_one_alarm_and_two_messages_per_contact(site, hook):
    clock = Clock()
    records = Records(site, clock)
    notifier = Notifier(site, WebhookProvider(hook.url, b"shared", timeout_s=2), SETTINGS, clock)
    for step in range(12):
        records.alarm("short_circuit", port=2, state=1 - step % 2)
        notifier.round()
        clock.now += 2
    clock.now += 60
    notifier.round()
    notifier.round()
    (alarm,) = alarm_ledger.listing(site, everything=True)
    assert alarm["raised"] == 6 and alarm["closed_at"] is not None
    assert sorted(statuses(site)) == sorted(
        [(WANG, "open", "sent"), (LI, "open", "sent"), (WANG, "clear", "sent"), (LI, "clear", "sent")]
    )


def test_a_pile_offline_too_long_raises_offline_and_coming_back_clears_it(site, hook):
    clock = Clock()
    records = Records(site, clock)
    notifier = Notifier(site, WebhookProvider(hook.url, b"shared", timeout_s=2), SETTINGS, clock)
    records.status(1, True)
    records.status(1, False)
    clock.now += 599
    notifier.round()
    assert alarm_ledger.listing(site) == []
    clock.now += 1
    assert notifier.round().sent == 2
    assert hook.bodies[0]["text"].startswith("【充电桩告警】小区A 3号桩 离线 ")
    records.status(2, True)
    clock.now += 60
    notifier.round()
    assert [b["text"].startswith("【充电桩恢复】") for b in hook.bodies] == [False, False, True, True]


def test_ignored_types_old_records_and_piles_without_a_site_send_nothing(site, hook):
    clock = Clock()
    records = Records(site, clock)
    records.alarm("smoke", state=1)  # received long before the notifier's backlog reaches
    clock.now += SETTINGS.backlog_s + 1
    notifier = Notifier(site, WebhookProvider(hook.url, b"shared", timeout_s=2), SETTINGS, clock)
    records.alarm("card_refused", port=3, detail="blacklisted")
    assert notifier.round().taken == 1 and alarm_ledger.listing(site) == []
    Store(site).write(
        [(decode("pile/p9/up/alarm", cbor2.dumps({0: 1, 1: 1, 2: T0, 3: "fuse_blown", 4: 0, 5: ""})), clock.now)]
    )
    assert notifier.round().sent == 0 and [a["pile"] for a in alarm_ledger.listing(site)] == ["p9"]
    assert hook.bodies == []


def test_a_database_from_before_keys_6_and_7_gets_the_columns(db):
    with db.transaction():
        db.execute("ALTER TABLE alarms DROP COLUMN numbers")
        db.execute("ALTER TABLE alarms DROP COLUMN state")
    db.execute("INSERT INTO alarms VALUES ('p1', 9, 1, 'meter_lost', 0, '', 5, 1.0)")
    create_alarm_tables(db)
    assert db.query("SELECT alarm, state, numbers FROM alarms") == [("meter_lost", None, None)]
    Records(db, Clock()).alarm("sms_sent", detail="smoke", numbers=[WANG])
    assert db.query("SELECT numbers FROM alarms WHERE alarm = 'sms_sent'") == [('["13800000001"]',)]
