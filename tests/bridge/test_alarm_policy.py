"""The notifier's pure core: intake of records, the messages due, the cap, quiet hours, the text."""

from __future__ import annotations

import calendar
import dataclasses
import json

import pytest

from cloud_bridge.alarm_intake import (
    AGAIN,
    CLEAR,
    NOTHING,
    OPEN,
    REOPEN,
    Event,
    OpenAlarm,
    event_of,
    intake,
    offline_event,
)
from cloud_bridge.alarm_policy import (
    CAPPED,
    ESCALATION,
    FAILED,
    PILE,
    REPEAT,
    SENT,
    Contact,
    Due,
    Plan,
    Sent,
    apply_cap,
    canonical,
    local_day,
    plan,
    quiet,
)
from cloud_bridge.alarm_policy import CLEAR as CLEAR_MESSAGE
from cloud_bridge.alarm_policy import OPEN as OPEN_MESSAGE
from cloud_bridge.alarm_settings import NotifierSettings
from cloud_bridge.alarm_text import compose

# 10:00 and 23:00 in Beijing (UTC+8) on 2026-11-22.
DAY = calendar.timegm((2026, 11, 22, 2, 0, 0))
NIGHT = calendar.timegm((2026, 11, 22, 15, 0, 0))
S = NotifierSettings(repeat_s=600, escalate_after_s=300, daily_cap=3, pile_sms_grace_s=120, flap_hold_s=60, retry_s=30)
WANG, LI, ZHAO = Contact("王", "13800000001", 1), Contact("李", "13800000002", 1), Contact("赵", "13900000009", 2)
CONTACTS = (WANG, LI, ZHAO)


def alarm(name: str = "meter_lost", klass: str = "critical", at: float = DAY, **changes) -> OpenAlarm:
    return dataclasses.replace(OpenAlarm(1, "p1", 0, name, klass, True, int(at), at), **changes)


def due(found, *expected: tuple[Contact, str]) -> None:
    assert sorted((d.contact.number, d.kind) for d in found.messages) == sorted((c.number, k) for c, k in expected)


def sent(contact: Contact, kind: str, at: float, status: str = SENT) -> Sent:
    return Sent(contact, kind, status, at)


# --- intake ---


def test_records_become_events_and_sms_reports_are_none():
    assert event_of("p1", "sms_sent", 0, None, 5, 1.0) is None
    assert event_of("p1", "meter_back", 0, None, 5, 1.0) == Event("p1", 0, "meter_lost", 0, 5, 1.0)
    assert event_of("p1", "meter_lost", 0, None, 5, 1.0).state == 1  # legacy: a raise, meter_back clears it
    assert event_of("p1", "smoke", 0, 1, 5, 1.0).state == 1
    assert event_of("p1", "relay_welded", 4, 0, 5, 1.0) == Event("p1", 4, "relay_welded", 0, 5, 1.0)
    assert event_of("p1", "flash_fault", 0, None, 5, 1.0).state is None  # a one-off event


def test_intake_opens_counts_clears_and_reopens():
    raise_, clear = Event("p1", 0, "smoke", 1, 0, DAY), Event("p1", 0, "smoke", 0, 0, DAY)
    one_off = Event("p1", 0, "flash_fault", None, 0, DAY)
    assert intake(None, raise_) == OPEN and intake(None, one_off) == OPEN
    assert intake(None, clear) == NOTHING
    assert intake(alarm(), raise_) == AGAIN and intake(alarm(stateful=False), one_off) == AGAIN
    assert intake(alarm(), clear) == CLEAR
    assert intake(alarm(cleared_at=DAY), clear) == NOTHING
    assert intake(alarm(cleared_at=DAY), raise_) == REOPEN


def test_offline_is_raised_after_the_delay_and_cleared_when_back():
    s = NotifierSettings(offline_after_s=600)
    assert offline_event("p1", False, DAY, None, DAY + 599, s) is None
    raised = offline_event("p1", False, DAY, None, DAY + 600, s)
    assert raised == Event("p1", 0, "offline", 1, DAY, DAY + 600)
    assert offline_event("p1", False, DAY, alarm("offline"), DAY + 9999, s) is None  # open already
    assert offline_event("p1", True, DAY + 700, alarm("offline"), DAY + 701, s) == Event(
        "p1", 0, "offline", 0, DAY + 700, DAY + 700
    )
    assert offline_event("p1", True, DAY + 700, None, DAY + 701, s) is None
    assert offline_event("p1", False, DAY, alarm("offline", cleared_at=DAY), DAY + 600, s).state == 1  # flapping link


# --- what is due ---


def test_the_open_goes_to_level_1_once():
    a = alarm()
    due(plan(a, CONTACTS, [], frozenset(), DAY, S), (WANG, OPEN_MESSAGE), (LI, OPEN_MESSAGE))
    told = [sent(WANG, OPEN_MESSAGE, DAY), sent(LI, OPEN_MESSAGE, DAY)]
    due(plan(a, CONTACTS, told, frozenset(), DAY + 1, S))


def test_a_failed_message_is_due_again_after_the_retry_delay():
    a = alarm()
    history = [sent(WANG, OPEN_MESSAGE, DAY), sent(LI, OPEN_MESSAGE, DAY, FAILED)]
    due(plan(a, CONTACTS, history, frozenset(), DAY + 29, S))
    due(plan(a, CONTACTS, history, frozenset(), DAY + 30, S), (LI, OPEN_MESSAGE))


def test_repeats_follow_each_recipients_last_message_until_acknowledged():
    a = alarm()
    history = [sent(WANG, OPEN_MESSAGE, DAY), sent(LI, OPEN_MESSAGE, DAY + 100)]
    escalation = (ZHAO, ESCALATION)
    due(plan(a, CONTACTS, history, frozenset(), DAY + 599, S), escalation)
    due(plan(a, CONTACTS, history, frozenset(), DAY + 600, S), (WANG, REPEAT), escalation)
    history += [sent(WANG, REPEAT, DAY + 600), sent(ZHAO, ESCALATION, DAY + 600)]
    due(plan(a, CONTACTS, history, frozenset(), DAY + 700, S), (LI, REPEAT))
    due(plan(a, CONTACTS, history, frozenset(), DAY + 1200, S), (WANG, REPEAT), (LI, REPEAT), (ZHAO, REPEAT))
    acked = dataclasses.replace(a, acknowledged_at=DAY + 650)
    due(plan(acked, CONTACTS, history, frozenset(), DAY + 5000, S))
    assert not plan(acked, CONTACTS, history, frozenset(), DAY + 5000, S).close  # stateful: waits for its clear


def test_escalation_goes_to_level_2_once_after_the_delay_and_not_once_acknowledged():
    a = alarm()
    told = [sent(WANG, OPEN_MESSAGE, DAY), sent(LI, OPEN_MESSAGE, DAY)]
    due(plan(a, CONTACTS, told, frozenset(), DAY + 299, S))
    due(plan(a, CONTACTS, told, frozenset(), DAY + 300, S), (ZHAO, ESCALATION))
    due(plan(a, CONTACTS, told + [sent(ZHAO, ESCALATION, DAY + 300)], frozenset(), DAY + 301, S))
    due(plan(dataclasses.replace(a, acknowledged_at=DAY + 10), CONTACTS, told, frozenset(), DAY + 300, S))
    # A number at both levels gets the open, and no escalation on top.
    both = (WANG, Contact("王", "+86 138 0000 0001", 2))
    due(plan(a, both, [sent(WANG, OPEN_MESSAGE, DAY)], frozenset(), DAY + 300, S))


def test_a_clear_waits_the_flap_hold_then_goes_to_whoever_knew_then_the_alarm_closes():
    cleared = alarm(cleared_at=DAY + 1000)
    history = [sent(WANG, OPEN_MESSAGE, DAY), sent(LI, OPEN_MESSAGE, DAY, CAPPED), sent(ZHAO, ESCALATION, DAY + 300)]
    due(plan(cleared, CONTACTS, history, frozenset(), DAY + 1059, S))
    found = plan(cleared, CONTACTS, history, frozenset(), DAY + 1060, S)
    due(found, (WANG, CLEAR_MESSAGE), (ZHAO, CLEAR_MESSAGE))  # not 李, who never got the open
    assert not found.close
    history += [sent(WANG, CLEAR_MESSAGE, DAY + 1060), sent(ZHAO, CLEAR_MESSAGE, DAY + 1060, FAILED)]
    assert not plan(cleared, CONTACTS, history, frozenset(), DAY + 1061, S).close
    history += [sent(ZHAO, CLEAR_MESSAGE, DAY + 1100)]
    assert plan(cleared, CONTACTS, history, frozenset(), DAY + 1101, S) == Plan((), close=True)
    # The clear is owed from the history: a contact removed meanwhile still hears the alarm is over.
    due(plan(cleared, (), history[:2], frozenset(), DAY + 1101, S), (WANG, CLEAR_MESSAGE))


def test_an_acknowledged_one_off_event_closes_without_a_clear():
    one_off = alarm("flash_fault", "normal", stateful=False, acknowledged_at=DAY + 5)
    found = plan(one_off, CONTACTS, [sent(WANG, OPEN_MESSAGE, DAY)], frozenset(), DAY + 6, S)
    assert found.close and found.messages == ()


def test_quiet_hours_hold_normal_alarms_and_release_them_in_the_morning():
    assert quiet(NIGHT, S) and not quiet(DAY, S)
    morning = calendar.timegm((2026, 11, 22, 23, 0, 0))  # 07:00 next day in Beijing
    assert quiet(morning - 1, S) and not quiet(morning, S)
    normal = alarm("modem_fault", "normal", at=NIGHT)
    due(plan(normal, CONTACTS, [], frozenset(), NIGHT, S))
    due(
        plan(normal, CONTACTS, [], frozenset(), morning, S),
        (WANG, OPEN_MESSAGE),
        (LI, OPEN_MESSAGE),
        (ZHAO, ESCALATION),
    )
    critical = alarm("smoke", at=NIGHT)
    due(plan(critical, CONTACTS, [], frozenset(), NIGHT + 120, S), (WANG, OPEN_MESSAGE), (LI, OPEN_MESSAGE))
    # Cleared before the morning and nobody told: it closes, nothing is ever sent.
    over = dataclasses.replace(normal, cleared_at=NIGHT + 100)
    found = plan(over, CONTACTS, [], frozenset(), morning, S)
    assert found.close and found.messages == ()
    # A clear owed during quiet hours waits too.
    told = [sent(WANG, OPEN_MESSAGE, NIGHT - 7200)]
    due(plan(over, CONTACTS, told, frozenset(), NIGHT + 3600, S))
    due(plan(over, CONTACTS, told, frozenset(), morning, S), (WANG, CLEAR_MESSAGE))
    assert not quiet(NIGHT, NotifierSettings(quiet_start="00:00", quiet_end="00:00"))
    assert quiet(DAY, NotifierSettings(quiet_start="09:00", quiet_end="11:00"))


def test_the_pile_covers_its_own_numbers_and_the_rest_wait_for_the_grace():
    smoke = alarm("smoke")
    covered = frozenset({"13800000001"})
    found = plan(smoke, CONTACTS, [], covered, DAY + 10, S)
    assert found.messages == (Due(WANG, OPEN_MESSAGE, by_pile=True),)  # 李 waits for the pile's reports
    history = [sent(WANG, OPEN_MESSAGE, DAY + 10, PILE)]
    due(plan(smoke, CONTACTS, history, covered, DAY + 119, S))
    due(plan(smoke, CONTACTS, history, covered, DAY + 120, S), (LI, OPEN_MESSAGE))
    # Both covered within the grace: the bridge texts nobody the open.
    both = frozenset({"13800000001", "13800000002"})
    assert all(d.by_pile for d in plan(smoke, CONTACTS, [], both, DAY + 5, S).messages)
    # No report at all: after the grace the bridge texts everyone.
    due(plan(smoke, CONTACTS, [], frozenset(), DAY + 120, S), (WANG, OPEN_MESSAGE), (LI, OPEN_MESSAGE))
    # A type the pile does not text is not waited for.
    due(plan(alarm("relay_welded"), CONTACTS, [], frozenset(), DAY, S), (WANG, OPEN_MESSAGE), (LI, OPEN_MESSAGE))
    # Told by the pile counts for the clear and the repeats.
    cleared = dataclasses.replace(smoke, cleared_at=DAY + 200)
    due(plan(cleared, CONTACTS, history, covered, DAY + 260, S), (WANG, CLEAR_MESSAGE))


def test_a_flapping_alarm_is_one_alarm_and_one_message():
    """open/clear/open every few seconds for a minute, then clear for good: one open, one clear each."""
    state = None
    history = []
    closed = 0
    now = DAY
    for step in range(40):
        now = DAY + 3 * step
        event = Event("p1", 0, "meter_lost", 1 if step % 2 == 0 else 0, 0, now)
        change = intake(state, event)
        if change == OPEN:
            state = OpenAlarm(1, "p1", 0, "meter_lost", "critical", True, 0, now)
        elif change == REOPEN:
            state = dataclasses.replace(state, cleared_at=None, raised=state.raised + 1)
        elif change == CLEAR:
            state = dataclasses.replace(state, cleared_at=now)
        found = plan(state, CONTACTS, history, frozenset(), now, S)
        history += [sent(d.contact, d.kind, now) for d in found.messages]
        closed += found.close
    for later in range(now, now + 120, 5):
        found = plan(state, CONTACTS, history, frozenset(), later, S)
        history += [sent(d.contact, d.kind, later) for d in found.messages]
        if found.close:
            break
    assert found.close and state.raised == 20 and closed == 0
    assert sorted((s.contact.name, s.kind) for s in history) == [
        ("李", "clear"),
        ("李", "open"),
        ("王", "clear"),
        ("王", "open"),
    ]


# --- the cap, numbers, days ---


def test_the_daily_cap_lets_through_so_many_per_recipient_and_the_pile_costs_nothing():
    messages = [Due(WANG, REPEAT), Due(LI, REPEAT), Due(WANG, ESCALATION), Due(WANG, OPEN_MESSAGE, by_pile=True)]
    counts = {"13800000001": 1}
    decided = apply_cap(messages, counts, S)
    assert [allowed for _, allowed in decided] == [True, True, True, True]
    assert counts == {"13800000001": 3, "13800000002": 1}
    assert [allowed for _, allowed in apply_cap([Due(WANG, REPEAT), Due(LI, REPEAT)], counts, S)] == [False, True]


def test_numbers_and_local_days():
    assert canonical("+86 138-0000-0001") == canonical("008613800000001") == "13800000001"
    assert canonical("+4420 7946 0000") == "+442079460000"
    midnight = calendar.timegm((2026, 11, 22, 16, 0, 0))  # 00:00 on the 23rd in Beijing
    assert local_day(midnight - 1, S) + 1 == local_day(midnight, S) == local_day(midnight + 86399, S)


# --- the text, the settings ---


def test_messages_are_short_chinese_and_say_what_the_cap_held_back():
    assert (
        compose("open", "小区A", "3号桩", 0, "smoke", DAY, 0, S)
        == "【充电桩告警】小区A 3号桩 烟雾报警 2026-11-22 10:00"
    )
    assert compose("open", "小区A", "3号桩", 4, "relay_welded", DAY, 0, S) == (
        "【充电桩告警】小区A 3号桩 4号口 继电器粘连 2026-11-22 10:00"
    )
    assert compose("clear", "小区A", "3号桩", 0, "meter_lost", NIGHT, 0, S) == (
        "【充电桩恢复】小区A 3号桩 电表通信中断已恢复 2026-11-22 23:00"
    )
    repeat = compose("repeat", "幸福家园北区", "PILE-0042", 10, "heat_warn", DAY, 12, S)
    assert repeat.startswith("【充电桩告警·未确认】") and repeat.endswith("（另有12条超限未发）")
    assert len(repeat) <= 70  # one UCS-2 SMS part
    assert (
        compose("escalation", "", "p1", 0, "new_thing", DAY, 0, S) == "【充电桩告警·升级】p1 new_thing 2026-11-22 10:00"
    )


def test_settings_from_a_file_with_class_overrides(tmp_path):
    path = tmp_path / "notify.json"
    path.write_text(json.dumps({"daily_cap": 5, "classes": {"heat_warn": "critical", "ui_fault": "ignore"}}))
    settings = NotifierSettings.from_file(path)
    assert settings.daily_cap == 5 and settings.class_of("heat_warn") == "critical"
    assert settings.class_of("ui_fault") == "ignore" and settings.class_of("smoke") == "critical"
    assert settings.class_of("whatever") == "normal" and settings.class_of("card_refused") == "ignore"
    for bad in ({"daily_cap": 0}, {"quiet_start": "25:00"}, {"classes": {"smoke": "loud"}}, {"repeat": 5}):
        path.write_text(json.dumps(bad))
        with pytest.raises((ValueError, TypeError)):
            NotifierSettings.from_file(path)
