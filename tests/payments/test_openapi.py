"""The API describes itself: FastAPI's OpenAPI spec lists every route of the payment flow."""

from __future__ import annotations

import json


def test_the_openapi_spec_lists_the_routes(make_flow):
    flow = make_flow()
    answer = flow.get("/openapi.json")
    assert answer.status == 200
    spec = json.loads(answer.body)
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    expected = {
        "/p/{pile}/{port}": "get",
        "/p/{pile}/{port}/checkout": "post",
        "/payments/{payment_id}": "get",
        "/api/payments/{payment_id}": "get",
        "/api/piles/{pile}/ports/{port}": "get",
        "/payments/notify/{provider}": "post",
        "/sandbox/pay/{tx}": "get",
        "/sandbox/pay/{tx}/pay": "post",
        "/sandbox/pay/{tx}/cancel": "post",
    }
    for path, method in expected.items():
        assert method in paths.get(path, {}), path
    checkout = paths["/p/{pile}/{port}/checkout"]["post"]
    assert "application/x-www-form-urlencoded" in checkout["requestBody"]["content"]
