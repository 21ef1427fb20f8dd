"""The bridge's HTTP API for the QR payment flow (FastAPI; its OpenAPI spec at ``/openapi.json``).

Routes: the port page a QR code opens (``GET /p/{pile}/{port}``), its checkout (``POST``), the payment's
status page and JSON, the provider's notify endpoint, and the sandbox provider's pay page when the
sandbox is the provider. Bad input gets a 4xx and a log line; nothing a resident or a forger sends can
make it fail. The work (database, command channel, provider) runs in FastAPI's thread pool.
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated

from fastapi import FastAPI, Form, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from cloud_bridge import pages, payment_status
from cloud_bridge.payments import NotificationMismatch, PaymentLedger, UnknownPayment
from cloud_bridge.port_state import PortView, port_view
from cloud_bridge.providers.provider import ForgedNotification, MalformedNotification
from cloud_bridge.providers.sandbox import SandboxProvider
from cloud_bridge.providers.sandbox_pages import sandbox_router

log = logging.getLogger(__name__)

PILE_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"  # as in the topics (docs/cloud-protocol.md)
PAYMENT_PATTERN = r"^qr[0-9a-f]{24}$"
CHECKOUT_PATTERN = r"^[0-9a-f]{32}$"

PileId = Annotated[str, Path(pattern=PILE_PATTERN, description="the pile id")]
PortNo = Annotated[int, Path(ge=1, le=999, description="the port number, from 1")]
PaymentId = Annotated[str, Path(pattern=PAYMENT_PATTERN, description="the payment id (also its reference)")]


def _html_error(status: int, text: str) -> HTMLResponse:
    return HTMLResponse(pages.error_page(text), status_code=status)


def create_app(ledger: PaymentLedger, public_url: str | None = None) -> FastAPI:
    """The API over ``ledger``. ``public_url``: the bridge's address as residents and the provider reach
    it (for the provider's return and notify URLs); by default the address each request came to."""
    app = FastAPI(
        title="Charging pile bridge: QR payments",
        version="1.0",
        description="Port pages behind the QR codes, checkout, payment status, payment provider notifications.",
    )
    app.mount("/static", StaticFiles(directory=pages.WEB_DIR), name="static")
    settings = ledger.settings

    def base(request: Request) -> str:
        return (public_url or str(request.base_url)).rstrip("/")

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        log.warning("refused %s %s: %s", request.method, request.url.path, error.errors())
        return await request_validation_exception_handler(request, error)

    def view_of(pile: str, port: int) -> PortView | None:
        return ledger.read(lambda db: port_view(db, pile, port))

    @app.get("/p/{pile}/{port}", response_class=HTMLResponse, summary="Port page (what a port's QR code opens)")
    def port_page(pile: PileId, port: PortNo) -> Response:
        view = view_of(pile, port)
        if view is None:
            log.warning("port page: no pile %s port %d", pile, port)
            return _html_error(404, "没有这个端口 · No such port: %s port %d" % (pile, port))
        return HTMLResponse(pages.port_page(view, settings.amounts_fen, secrets.token_hex(16)))

    @app.get("/api/piles/{pile}/ports/{port}", summary="Port state (JSON)")
    def port_json(pile: PileId, port: PortNo) -> Response:
        view = view_of(pile, port)
        if view is None:
            log.warning("port state: no pile %s port %d", pile, port)
            return JSONResponse({"detail": "no such port"}, status_code=404)
        fields = ("pile", "port", "online", "state", "power_w", "left_s", "payable", "why_not")
        return JSONResponse({name: getattr(view, name) for name in fields} | {"amounts_fen": settings.amounts_fen})

    @app.post("/p/{pile}/{port}/checkout", summary="Checkout: make the payment and go to the provider")
    def checkout(
        request: Request,
        pile: PileId,
        port: PortNo,
        amount_fen: Annotated[int, Form(description="one of the amounts offered")],
        checkout: Annotated[str, Form(pattern=CHECKOUT_PATTERN, description="the token of the page's form")],
    ) -> Response:
        view = view_of(pile, port)
        if view is None:
            log.warning("checkout: no pile %s port %d", pile, port)
            return _html_error(404, "没有这个端口 · No such port: %s port %d" % (pile, port))
        if amount_fen not in settings.amounts_fen:
            log.warning("checkout %s port %d: %d fen is not offered", pile, port, amount_fen)
            return _html_error(400, "金额无效 · Amount not offered")
        if not view.payable:
            log.warning("checkout %s port %d: port is %s", pile, port, view.why_not)
            return _html_error(409, "暂不能支付 · No payment possible now (%s)" % view.why_not)
        root = base(request)
        try:
            payment = ledger.checkout(
                checkout,
                pile,
                port,
                amount_fen,
                lambda payment_id: "%s/payments/%s" % (root, payment_id),
                "%s/payments/notify/%s" % (root, ledger.provider.name),
            )
        except OSError as error:  # the provider could not be reached; the same form may be sent again
            log.error("checkout %s port %d: provider: %s", pile, port, error)
            return _html_error(502, "支付服务暂不可用 · Payment provider unavailable, try again")
        return RedirectResponse(payment["pay_url"], status_code=303)

    @app.get("/payments/{payment_id}", response_class=HTMLResponse, summary="Payment status page")
    def payment_page(payment_id: PaymentId) -> Response:
        try:
            return HTMLResponse(pages.payment_page(payment_status.status(ledger.payment(payment_id))))
        except UnknownPayment:
            log.warning("payment page: no payment %s", payment_id)
            return _html_error(404, "没有这笔支付 · No such payment")

    @app.get("/api/payments/{payment_id}", summary="Payment status (JSON)")
    def payment_json(payment_id: PaymentId) -> Response:
        try:
            return JSONResponse(payment_status.status(ledger.payment(payment_id)))
        except UnknownPayment:
            log.warning("payment status: no payment %s", payment_id)
            return JSONResponse({"detail": "no such payment"}, status_code=404)

    @app.post("/payments/notify/{provider}", summary="Payment provider notification (signed)")
    async def notify(provider: str, request: Request) -> Response:
        body = await request.body()
        if provider != ledger.provider.name:
            log.warning("notification for provider %r, which is not this bridge's", provider)
            return JSONResponse({"detail": "unknown provider"}, status_code=404)
        try:
            notification = ledger.provider.verify_notification(request.headers, body)
        except ForgedNotification as error:
            client = request.client.host if request.client else "?"
            log.warning("forged notification from %s refused (%s): %r", client, error, body[:200])
            return JSONResponse({"detail": "signature does not verify"}, status_code=401)
        except MalformedNotification as error:
            log.warning("malformed notification refused: %s", error)
            return JSONResponse({"detail": str(error)}, status_code=400)
        try:
            payment = await run_in_threadpool(ledger.notified, notification)
        except UnknownPayment:
            log.warning("notification for unknown payment %r", notification.reference)
            return JSONResponse({"detail": "no such payment"}, status_code=404)
        except NotificationMismatch as error:
            log.error("notification refused: %s", error)
            return JSONResponse({"detail": str(error)}, status_code=409)
        return JSONResponse({"ok": True, "state": payment["state"]})

    if isinstance(ledger.provider, SandboxProvider):
        app.include_router(sandbox_router(ledger.provider))
    return app
