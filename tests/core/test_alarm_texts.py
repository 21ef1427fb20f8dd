"""The alarm texts the pile sends itself: which alarms, how often, and the words and time they carry."""

from firmware import config
from firmware.shell.modem_task import AlarmTexts
from firmware.shell.sms_round import compose, local_time

NUMBERS = ["+8613800138000", "13900139000"]


def texts(**overrides):
    cfg = config.defaults()
    cfg.update(SMS_NUMBERS=NUMBERS, SMS_SITE="幸福小区", **overrides)
    return AlarmTexts(cfg, "PILE-A")


def test_smoke_and_heat_are_texted_to_every_number_and_other_alarms_are_not():
    queue = texts()
    for name in ("heat_warn", "short_circuit", "meter_lost", "smoke", "heat"):
        queue.queue(name, 0, "70.0C" if name == "heat" else "", 1000, 1795311279)
    assert [text[0] for text in queue.pending] == ["smoke", "heat"]
    assert queue.pending[0][4] == NUMBERS and queue.pending[0][4] is not NUMBERS
    assert queue.ready.is_set()


def test_the_same_alarm_is_not_queued_again_within_the_repeat_time():
    queue = texts(SMS_REPEAT_S=60)
    queue.queue("smoke", 0, "", 1000, 0)
    queue.queue("smoke", 0, "", 59000, 0)
    assert len(queue.pending) == 1
    queue.queue("smoke", 0, "", 61001, 0)
    assert len(queue.pending) == 2


def test_nobody_listed_nothing_queued():
    cfg = config.defaults()
    queue = AlarmTexts(cfg, "PILE-A")
    queue.queue("smoke", 0, "", 1000, 0)
    assert not queue.pending


def test_a_text_not_sent_is_due_again_after_the_retry_time():
    queue = texts(SMS_RETRY_S=60)
    queue.queue("smoke", 0, "", 1000, 0)
    assert queue.due(1000) == queue.pending
    queue.pending[0][6] = 2000  # tried then
    assert queue.due(61000) == []
    assert queue.due(62000) == queue.pending


def test_the_words_and_the_local_time():
    queue = texts()
    queue.queue("smoke", 0, "", 1000, 1795311279)
    queue.queue("heat", 0, "70.0C", 1000, 1795311279)
    smoke, heat = (compose(queue, text) for text in queue.pending)
    assert smoke == "【充电桩告警】幸福小区PILE-A 烟雾报警，已切断全部充电，请立即到场查看。11月22日09:34"
    assert heat == "【充电桩告警】幸福小区PILE-A 机柜温度过高（70.0C），已暂停全部充电。11月22日09:34"


def test_local_time_is_china_time_across_days_months_and_leap_years():
    assert local_time(0) == "1月1日08:00"
    assert local_time(1835452800) == "3月1日00:00"  # 2028-02-29 16:00 UTC, a leap year
    assert local_time(1798734600) == "1月1日00:30"  # 2026-12-31 16:30 UTC
    assert local_time(4107542400) == "3月1日08:00"  # 2100, not a leap year
