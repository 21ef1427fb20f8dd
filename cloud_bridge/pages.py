"""The QR pages' HTML: the templates in ``web/`` filled in, every value escaped."""

from __future__ import annotations

from functools import cache
from html import escape
from pathlib import Path
from string import Template

from cloud_bridge.payment_settings import yuan
from cloud_bridge.port_state import PortView

WEB_DIR = Path(__file__).parent / "web"

# Port state words, Chinese and English.
_STATE_WORDS = {
    "idle": ("空闲，可以充电", "Free"),
    "stopped": ("空闲，可以充电", "Free"),
    "queued": ("端口忙：排队等待电力", "Busy: waiting for power"),
    "wait_plug": ("端口忙：等待插入充电器", "Busy: waiting for a charger"),
    "charging": ("端口忙：正在充电", "Busy: charging"),
    "unknown": ("状态未知，请稍后再试", "State not known yet, try again shortly"),
}
_OFFLINE_WORDS = ("充电桩离线，暂不能扫码支付", "The pile is offline: no payment now")


@cache
def _template(name: str) -> Template:
    return Template((WEB_DIR / name).read_text(encoding="utf-8"))


def _fill(name: str, **values: object) -> str:
    """Template ``name`` with ``values`` escaped, except those whose name ends in ``_html``."""
    safe = {key: value if key.endswith("_html") else escape(str(value)) for key, value in values.items()}
    return _template(name).substitute({key.removesuffix("_html"): value for key, value in safe.items()})


def _page(title: str, body_html: str) -> str:
    return _fill("layout.html", title=title, body_html=body_html)


def port_page(view: PortView, amounts_fen: tuple[int, ...], checkout: str) -> str:
    """The page a port's QR code opens: its state and, when it is free, the amounts to pay."""
    chinese, english = _OFFLINE_WORDS if not view.online else _STATE_WORDS[view.state]
    if view.payable:
        buttons = "".join(
            '<button type="submit" name="amount_fen" value="%d">%s</button>' % (fen, escape(yuan(fen)))
            for fen in amounts_fen
        )
        choices = _fill(
            "choices.html", action="/p/%s/%d/checkout" % (view.pile, view.port), checkout=checkout, buttons_html=buttons
        )
    else:
        choices = '<p id="no-payment">暂不能支付 · No payment possible now</p>'
    body = _fill(
        "port.html",
        pile=view.pile,
        port=view.port,
        state=view.state,
        why_not=view.why_not or "free",
        state_zh=chinese,
        state_en=english,
        choices_html=choices,
    )
    return _page("充电桩 %s · %d 号端口" % (view.pile, view.port), body)


def payment_page(status: dict) -> str:
    """The page the resident comes back to from the provider: the payment's status, polled until final."""
    body = _fill(
        "payment.html",
        pile=status["pile"],
        port=status["port"],
        amount=yuan(status["amount_fen"]),
        phase=status["phase"],
        final="true" if status["final"] else "false",
        message_zh=status["message_zh"],
        message_en=status["message_en"],
        port_url="/p/%s/%d" % (status["pile"], status["port"]),
        status_url="/api/payments/%s" % status["payment_id"],
    )
    return _page("支付状态 · Payment", body)


def sandbox_page(tx: str, amount_fen: int, reference: str) -> str:
    """The sandbox provider's pay page."""
    body = _fill(
        "sandbox_pay.html",
        amount=yuan(amount_fen),
        reference=reference,
        pay_action="/sandbox/pay/%s/pay" % tx,
        cancel_action="/sandbox/pay/%s/cancel" % tx,
    )
    return _page("沙箱支付 · Sandbox payment", body)


def error_page(text: str) -> str:
    """A page saying what is wrong (unknown pile or port, amount not offered, ...)."""
    return _page("出错了 · Error", _fill("error.html", text=text))
