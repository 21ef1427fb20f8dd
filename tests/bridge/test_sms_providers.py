"""The SMPP and webhook providers against their emulators, over real sockets; choosing one from a URL."""

from __future__ import annotations

import socket

import pytest

from cloud_bridge.sms.choose import provider_from_url
from cloud_bridge.sms.provider import ProviderError
from cloud_bridge.sms.smpp import SmppProvider
from cloud_bridge.sms.webhook import WebhookProvider
from tests.bridge.smpp_emulator import SmppEmulator
from tests.bridge.webhook_receiver import WebhookReceiver

SHORT = "【充电桩告警】小区A 3号桩 烟雾报警 2026-11-22 03:14"
LONG = "【充电桩告警】" + "幸福家园北区东门停车棚" * 13  # 150 characters, 300 bytes: three UCS-2 parts of 67


@pytest.fixture
def centre():
    with SmppEmulator("bridge", "secret") as running:
        yield running


def smpp(centre: SmppEmulator, **options) -> SmppProvider:
    return SmppProvider("127.0.0.1", centre.port, "bridge", "secret", timeout_s=2, **options)


def test_smpp_sends_chinese_as_ucs2_and_keeps_the_session(centre):
    provider = smpp(centre)
    try:
        first = provider.send("13800000001", SHORT)
        second = provider.send("+8613800000002", SHORT + "!")
    finally:
        provider.close()
    assert [(m.destination, m.text, m.data_coding, m.parts) for m in centre.messages] == [
        ("13800000001", SHORT, 8, 1),
        ("8613800000002", SHORT + "!", 8, 1),
    ]
    assert [m.dest_ton for m in centre.messages] == [0, 1]  # the + makes it international
    assert (first, second) == ("m1", "m2")
    assert centre.commands == ["bind_transmitter", "submit_sm", "submit_sm", "unbind"]


def test_smpp_splits_a_long_message_into_concatenated_parts(centre):
    provider = smpp(centre)
    try:
        message_id = provider.send("13800000001", LONG)
    finally:
        provider.close()
    (message,) = centre.messages
    assert message.text == LONG and message.parts == 3
    assert message_id == ",".join(message.message_ids) == "m1,m2,m3"


def test_smpp_checks_an_idle_session_and_binds_again_when_it_is_gone(centre):
    provider = smpp(centre, enquire_after_s=0)
    try:
        provider.send("13800000001", "一")
        provider.send("13800000001", "二")  # idle "too long": enquire_link first
        centre.drop_connections()
        provider.send("13800000001", "三")  # the enquire_link fails: a new bind
    finally:
        provider.close()
    assert [m.text for m in centre.messages] == ["一", "二", "三"]
    assert centre.commands[:4] == ["bind_transmitter", "submit_sm", "enquire_link", "submit_sm"]
    assert centre.binds == 2


def test_smpp_refusals_and_an_absent_centre_are_provider_errors(centre):
    with pytest.raises(ProviderError, match="refused the bind"):
        SmppProvider("127.0.0.1", centre.port, "bridge", "wrong", timeout_s=2).send("13800000001", SHORT)
    provider = smpp(centre)
    centre.refuse_submit = 0x58  # throttled
    with pytest.raises(ProviderError, match="0x58"):
        provider.send("13800000001", SHORT)
    centre.refuse_submit = 0
    assert provider.send("13800000001", SHORT) == "m1"  # the same session goes on
    provider.close()
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(ProviderError):
        SmppProvider("127.0.0.1", port, "bridge", "secret", timeout_s=1).send("13800000001", SHORT)


def test_the_webhook_posts_signed_json_and_a_failure_is_a_provider_error():
    with WebhookReceiver(b"shared") as hook:
        provider = WebhookProvider(hook.url, b"shared", timeout_s=2)
        assert provider.send("13800000001", SHORT, alarm_id=7) == "w1"
        assert provider.send("13800000002", SHORT) == "w2"
        assert hook.bodies == [
            {"to": "13800000001", "text": SHORT, "alarm_id": 7},
            {"to": "13800000002", "text": SHORT, "alarm_id": None},
        ]
        hook.fail_with = 500
        with pytest.raises(ProviderError, match="500"):
            provider.send("13800000001", SHORT)
        hook.fail_with = 0
        with pytest.raises(ProviderError, match="401"):
            WebhookProvider(hook.url, b"guessed", timeout_s=2).send("13800000001", SHORT)
        assert hook.forged == 1 and len(hook.bodies) == 2
    with pytest.raises(ProviderError):
        provider.send("13800000001", SHORT)  # nobody listens any more


def test_a_webhook_that_does_not_answer_in_time_is_a_provider_error():
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts (backlog), never answers
        provider = WebhookProvider("http://127.0.0.1:%d/" % silent.getsockname()[1], b"s", timeout_s=0.3)
        with pytest.raises(ProviderError, match="timed out"):
            provider.send("13800000001", SHORT)


def test_providers_are_chosen_by_url():
    smpp_provider = provider_from_url("smpp://bridge:p%40ss@sms.example:2776?source=10690001")
    assert isinstance(smpp_provider, SmppProvider)
    assert (smpp_provider.host, smpp_provider.port, smpp_provider.system_id) == ("sms.example", 2776, "bridge")
    assert smpp_provider._password == "p@ss" and smpp_provider.source == "10690001"
    assert provider_from_url("smpp://bridge:x@sms.example").port == 2775
    assert isinstance(provider_from_url("https://gw.example/sms", b"k"), WebhookProvider)
    modem = provider_from_url("gsm:/dev/ttyUSB3?baud=9600")
    assert (modem.name, modem.port, modem.baudrate) == ("gsm", "/dev/ttyUSB3", 9600)
    assert provider_from_url("gsm:/dev/ttyUSB0").baudrate == 115200
    for bad in ("ftp://x", "smpp://sms.example", "gsm:"):
        with pytest.raises(ValueError):
            provider_from_url(bad, b"k")
    with pytest.raises(ValueError):
        provider_from_url("https://gw.example/sms")  # no secret
