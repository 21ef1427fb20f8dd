"""The demo's cloud with the real firmware in a virtual pile: paying a port's QR page with the sandbox, as a
person does in a browser, starts that port."""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request

from boards.sim.world.world import VirtualPile
from cloud_bridge.api_server import qr_url
from tools.demo_cloud import PILE, DemoCloud
from tools.sim_console import DEMO_CONFIG

PORT = 8
TEST_TIMEOUT_S = 60.0
ONLINE_TIMEOUT_S = 30.0  # boot, modem, MQTT connect and the birth stored: about 10 s
RELAY_TIMEOUT_S = 15.0


def _get(url: str) -> tuple[str, str]:
    """(final URL after redirects, body) of a GET."""
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.url, answer.read().decode()


def _post(url: str, fields: dict) -> tuple[str, str]:
    """(final URL after the 303 redirects, body) of a form POST."""
    data = urllib.parse.urlencode(fields).encode()
    with urllib.request.urlopen(url, data=data, timeout=10) as answer:
        return answer.url, answer.read().decode()


def _payable(base: str) -> bool:
    """The bridge knows the pile is online and the port free (404 until the pile's birth is stored)."""
    try:
        return json.loads(_get("%s/api/piles/%s/ports/%d" % (base, PILE, PORT))[1])["payable"]
    except urllib.error.HTTPError:
        return False


def _pay(base: str) -> tuple[str, str]:
    """Open the port's QR page, choose the first amount, pay on the sandbox page; the URL it ends on and
    the amount."""
    _, page = _get(qr_url(base, PILE, PORT))
    action = re.search(r'<form id="checkout" method="post" action="([^"]+)"', page).group(1)
    checkout = re.search(r'name="checkout" value="([0-9a-f]{32})"', page).group(1)
    amount = re.search(r'name="amount_fen" value="(\d+)"', page).group(1)
    sandbox_url, sandbox_page = _post(base + action, {"checkout": checkout, "amount_fen": amount})
    assert "/sandbox/pay/" in sandbox_url
    pay_action = re.search(r'action="(/sandbox/pay/sbx[0-9a-f]+/pay)"', sandbox_page).group(1)
    return _post(base + pay_action, {})[0], amount


async def _pay_a_port_and_watch_its_relay() -> None:
    cloud = await asyncio.to_thread(DemoCloud().start)
    pile = VirtualPile(DEMO_CONFIG, cloud=cloud.account())
    try:
        try:
            await pile.start()
        except TimeoutError as error:
            # Say why the firmware did not come up rather than only that it did not.
            raise AssertionError("%s; firmware errors: %s" % (error, _vm_errors(pile))) from error
        assert cloud.qr_lines[-1].endswith(qr_url(cloud.payments.url, PILE, 10))
        pile.plug(PORT, "ebike", 0.3)
        deadline = time.monotonic() + ONLINE_TIMEOUT_S
        while not await asyncio.to_thread(_payable, cloud.payments.url):
            assert time.monotonic() < deadline, "port %d never payable; firmware errors: %s" % (PORT, _vm_errors(pile))
            await asyncio.sleep(0.5)
        landed, amount = await asyncio.to_thread(_pay, cloud.payments.url)
        assert "/payments/qr" in landed
        try:
            await pile.wait_for(lambda: pile.relays[PORT] == 1, RELAY_TIMEOUT_S, "port %d's relay closed" % PORT)
        except TimeoutError as error:
            raise AssertionError(
                "%s; payments %s; firmware errors: %s" % (error, cloud.payments_made(), _vm_errors(pile))
            ) from error
        await pile.wait_for(lambda: cloud.payments_made() == [(PORT, int(amount), "started")], 5, "payment started")
    finally:
        await pile.stop()
        await asyncio.to_thread(cloud.stop)


def _vm_errors(pile: VirtualPile) -> list[str]:
    """What went wrong in the firmware: exceptions it printed, alarms it logged (a control fault's cause),
    and its restarts."""
    printed = [line for line in pile.vm.text_lines if "Error" in line]
    logged = [str(r) for r in pile.vm.records if r["log"] == "alarm" or (r["log"] == "boot" and r["boot"] > 1)]
    return printed + logged


def test_paying_a_ports_qr_page_with_the_sandbox_starts_that_port():
    asyncio.run(asyncio.wait_for(_pay_a_port_and_watch_its_relay(), TEST_TIMEOUT_S))
