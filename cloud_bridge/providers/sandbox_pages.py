"""The sandbox provider's pay page: "Pay" and "Cancel", then back to the bridge as a provider sends one."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cloud_bridge import pages
from cloud_bridge.providers.sandbox import SandboxProvider

log = logging.getLogger(__name__)

TxId = Annotated[str, Path(pattern=r"^sbx[0-9a-f]{16}$", description="the sandbox payment id")]


def sandbox_router(provider: SandboxProvider) -> APIRouter:
    """The routes of the sandbox's pay page."""
    router = APIRouter(prefix="/sandbox/pay", tags=["sandbox provider"])

    @router.get("/{tx}", response_class=HTMLResponse, summary="Sandbox pay page")
    def pay_page(tx: TxId) -> Response:
        payment = provider.payment(tx)
        if payment is None:
            log.warning("sandbox: no payment %s", tx)
            return HTMLResponse(pages.error_page("没有这笔支付 · No such payment"), status_code=404)
        return HTMLResponse(pages.sandbox_page(tx, payment.amount_fen, payment.reference))

    def decide(tx: str, pay: bool) -> Response:
        try:
            payment = provider.decide(tx, pay)
        except KeyError:
            log.warning("sandbox: no payment %s", tx)
            return HTMLResponse(pages.error_page("没有这笔支付 · No such payment"), status_code=404)
        return RedirectResponse(payment.return_url, status_code=303)

    @router.post("/{tx}/pay", summary="Sandbox: the resident pays")
    def pay(tx: TxId) -> Response:
        return decide(tx, True)

    @router.post("/{tx}/cancel", summary="Sandbox: the resident cancels")
    def cancel(tx: TxId) -> Response:
        return decide(tx, False)

    return router
