"""What the resident is told about a payment: the status JSON and the status page share these words."""

from __future__ import annotations

from cloud_bridge import payments
from cloud_bridge.payment_settings import yuan

PORT_BUSY = "port busy"

# phase: (Chinese, English); %(...)s filled from the payment.
_MESSAGES = {
    "waiting_payment": ("等待支付", "Waiting for the payment"),
    "cancelled": ("支付已取消", "Payment cancelled"),
    "waiting_pile": ("正在启动充电桩…", "Waiting for the pile…"),
    "started": (
        "已开始充电：%(port)s 号端口，订单 %(order_no)s",
        "Charging started: port %(port)s, order %(order_no)s",
    ),
    "port_busy": ("端口忙，已退款 %(refund)s", "Port busy: %(refund)s refunded"),
    "refunded": ("已退款 %(refund)s（%(reason)s）", "Refunded %(refund)s (%(reason)s)"),
    "finished": ("充电结束（%(reason)s），退还 %(refund)s", "Charging ended (%(reason)s), %(refund)s returned"),
}
_PHASES = {
    payments.CREATED: "waiting_payment",
    payments.CANCELLED: "cancelled",
    payments.PAID: "waiting_pile",
    payments.STARTING: "waiting_pile",
    payments.STARTED: "started",
    payments.REFUNDED: "refunded",
    payments.FINISHED: "finished",
}
# Phases after which nothing changes for the resident: the page stops polling.
FINAL_PHASES = ("cancelled", "port_busy", "refunded", "finished")


def phase(payment: dict) -> str:
    """The payment's phase as the resident sees it (a key of the messages above)."""
    if payment["state"] == payments.REFUNDED and payment["reason"] == PORT_BUSY:
        return "port_busy"
    return _PHASES[payment["state"]]


def status(payment: dict) -> dict:
    """The status JSON of a payment."""
    current = phase(payment)
    fill = {
        "port": payment["port"],
        "order_no": payment["order_no"],
        "refund": yuan(payment["refund_fen"] or 0),
        "reason": payment["reason"],
    }
    chinese, english = _MESSAGES[current]
    return {
        "payment_id": payment["payment_id"],
        "pile": payment["pile"],
        "port": payment["port"],
        "amount_fen": payment["amount_fen"],
        "state": payment["state"],
        "phase": current,
        "final": current in FINAL_PHASES,
        "order_no": payment["order_no"],
        "reason": payment["reason"],
        "refund_fen": payment["refund_fen"],
        "message_zh": chinese % fill,
        "message_en": english % fill,
    }
