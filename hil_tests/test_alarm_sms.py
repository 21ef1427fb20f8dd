"""Safety with the cloud in the loop: the pile texts smoke and cabinet heat from its own modem (with the
cloud down, while PPP carries the cloud link, once per alarm however its sensor flaps) and the bridge
learns whom it reached; a manager clears what the pile latched by command."""

from __future__ import annotations

import json
import time

from firmware.shell.sms_round import local_time
from hil_tests.test_cloud_sync import pile

NUMBERS = ["+8613800138000", "13900139000"]
SITE = "幸福小区"
SMS = {"SMS_NUMBERS": NUMBERS, "SMS_SITE": SITE, "SERVICE_PIN": 2468, "HEAT_HOLD_S": 1}


def expected(template: str, started_s: float, ended_s: float) -> set[str]:
    """The text at each minute the event may have fallen in (the pile's clock is the network's)."""
    return {template % local_time(int(t)) for t in range(int(started_s) - 60, int(ended_s) + 61, 30)}


def test_smoke_is_texted_to_every_number_with_the_cloud_down_and_a_flapping_detector_sends_no_more(make_rig, cloud):
    rig = pile(make_rig, cloud, **SMS)
    rig.link_down()
    started = time.time()
    rig.smoke(True)
    for _ in range(4):
        rig.smoke(False)
        rig.smoke(True)
    rig.wait_until(lambda: len(rig.texts()) == 2, 30, "the smoke texts")
    ended = time.time()
    texts = rig.texts()
    assert sorted(text.number for text in texts) == sorted(NUMBERS)
    smoke_text = f"【充电桩告警】{SITE}PILE-A 烟雾报警，已切断全部充电，请立即到场查看。%s"
    for text in texts:
        assert text.text in expected(smoke_text, started, ended), text.text
    rig.hold(6.0, lambda: len(rig.texts()) == 2, "no more texts for the same smoke")
    rig.link_up()
    db = cloud.bridge_db()
    try:
        deadline = time.monotonic() + 30
        while True:
            rows = db.query("SELECT alarm, port, detail, state, numbers FROM alarms WHERE pile = ?", ("PILE-A",))
            reports = [row for row in rows if row[0] == "sms_sent"]
            reached = sorted(number for row in reports for number in json.loads(row[4]))
            if ("smoke", 0, "", 1, None) in rows and reached == sorted(NUMBERS):
                break
            assert time.monotonic() < deadline, rows
            time.sleep(0.3)
    finally:
        db.close()
    assert all(row[2] == "smoke" for row in reports)


def test_heat_is_texted_with_the_temperature_and_not_again_within_the_repeat_time(make_rig, cloud):
    rig = pile(make_rig, cloud, HEAT_WARN_C=55, HEAT_STOP_C=65, HEAT_RESUME_C=50, **SMS)
    started = time.time()
    rig.cabinet_temperature(70)
    rig.wait_until(lambda: len(rig.texts()) == 2, 30, "the heat texts")
    heat_text = f"【充电桩告警】{SITE}PILE-A 机柜温度过高（70.0C），已暂停全部充电。%s"
    for text in rig.texts():
        assert text.text in expected(heat_text, started, time.time()), text.text
    rig.cabinet_temperature(40)
    rig.wait_until(lambda: any(r.get("state") == 0 for r in rig.alarms("heat")), 5, "the heat cleared")
    rig.cabinet_temperature(70)
    rig.wait_until(lambda: len([r for r in rig.alarms("heat") if r.get("state") == 1]) == 2, 5, "heat again")
    rig.hold(5.0, lambda: len(rig.texts()) == 2, "no second text within SMS_REPEAT_S")


def test_a_text_goes_out_while_ppp_carries_the_cloud_link_and_the_link_stays_up(make_rig, cloud):
    rig = pile(make_rig, cloud, **SMS)
    rig.plug(2, "ebike")
    rig.pay_coins(2, 1)
    rig.wait_until(lambda: rig.relay(2) == 1, 8, "port 2 charging")
    rig.smoke(True)
    rig.wait_until(lambda: len(rig.texts()) == 2, 30, "the smoke texts")
    order = rig.wait_order(2, 5)
    assert order["reason"] == "smoke"
    # The data call came back after the texts: the smoke's order still reaches the bridge.
    cloud.wait_orders("PILE-A", 1, 30)


def test_a_manager_clears_smoke_and_a_shorted_port_by_command_once_the_detector_is_quiet(make_rig, cloud):
    rig = pile(make_rig, cloud, **SMS)
    rig.plug(3, "ebike")
    rig.pay_coins(3, 1)
    rig.wait_until(lambda: rig.relay(3) == 1, 8, "port 3 charging")
    rig.short_circuit(3)
    rig.wait_order(3, 3)
    rig.short_circuit(3, 0)
    rig.smoke(True)
    rig.wait_until(lambda: rig.buzzer() == 1, 2, "the buzzer")
    refused = cloud.wait_command("PILE-A", cloud.send("PILE-A", "clear", port=0), 15)
    assert (refused.state, refused.detail) == ("refused", "smoke still detected")
    rig.smoke(False)
    # The pile reads the quiet detector on its next input scan; a manager whose clear came first tries again.
    deadline = time.monotonic() + 10
    while True:
        cleared = cloud.wait_command("PILE-A", cloud.send("PILE-A", "clear", port=0), 15)
        if cleared.state == "done" or time.monotonic() > deadline:
            break
        assert cleared.detail == "smoke still detected", cleared
        time.sleep(0.5)
    assert cleared.state == "done", cleared
    rig.wait_until(lambda: rig.buzzer() == 0, 2, "the buzzer quiet")
    rig.wait_until(lambda: rig.display()[0][2] != "X", 2, "port 3's fault cleared")
    rig.pay_coins(3, 1)
    rig.wait_until(lambda: rig.relay(3) == 1, 8, "port 3 charging again")
