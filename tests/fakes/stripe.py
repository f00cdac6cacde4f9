"""A Stripe API stand-in: customers, invoices, invoice items, payment intents, balance.

Wire format as documented at https://docs.stripe.com/api: form-encoded bodies
with bracketed keys (``metadata[plan]=pro``, ``payment_method_types[0]=card``),
``Authorization: Bearer sk_…``, Stripe objects as JSON, errors as
``{"error": {"type", "code", "message", "param"}}`` with Stripe's status codes.
POSTs with an ``Idempotency-Key`` are saved and replayed like Stripe does
(``Idempotent-Replayed: true``; other parameters under the same key are refused).
"""

from __future__ import annotations

import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import Recorded, record

SECRET_KEY = "sk_test_taskyard_0123456789"
RESTRICTED_KEY = "rk_test_readonly_0123456789"


def unflatten(form: dict[str, str]) -> dict[str, Any]:
    """``{"a[b]": "1", "c[0]": "x"}`` → ``{"a": {"b": "1"}, "c": ["x"]}``."""
    out: dict[str, Any] = {}
    for key, value in form.items():
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = out
        for part, nxt in itertools.pairwise(parts):
            empty: Any = [] if nxt.isdigit() else {}
            if isinstance(node, list):
                node = _slot(node, int(part), empty)
            else:
                node = node.setdefault(part, empty)
        if isinstance(node, list):
            _slot(node, int(parts[-1]), None)
            node[int(parts[-1])] = value
        else:
            node[parts[-1]] = value
    return out


def _slot(items: list[Any], index: int, empty: Any) -> Any:
    while len(items) <= index:
        items.append(None)
    if items[index] is None:
        items[index] = empty
    return items[index]


def error(status: int, type_: str, message: str, code: str | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"type": type_, "message": message, **extra}
    if code:
        body["code"] = code
        body["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    return JSONResponse({"error": body}, status_code=status, headers=_request_id())


def _request_id() -> dict[str, str]:
    return {"Request-Id": f"req_{time.monotonic_ns()}"}


def _missing(kind: str, ident: str, param: str, status: int) -> Response:
    return error(
        status,
        "invalid_request_error",
        f"No such {kind}: '{ident}'",
        "resource_missing",
        param=param,
    )


@dataclass
class FakeStripe:
    """One Stripe account; ``fail_next`` queues the next answers."""

    base_url: str = ""
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoice_items: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    queued: list[Response] = field(default_factory=list)
    idempotent: dict[tuple[str, str], tuple[str, Response]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def reset(self) -> None:
        for store in (self.customers, self.invoices, self.invoice_items, self.payment_intents):
            store.clear()
        self.requests.clear()
        self.queued.clear()
        self.idempotent.clear()

    def fail_next(self, kind: str, *, retry_after: int | None = None) -> None:
        """Answer the next request like Stripe does for ``kind``.

        ``rate_limited`` (429), ``unauthorized`` (401), ``not_found`` (404),
        ``card_declined`` (402), ``lock_timeout`` (409) or ``server_error`` (500).
        """
        if kind == "rate_limited":
            response = error(
                429, "invalid_request_error", "Request rate limit exceeded.", "rate_limit"
            )
            if retry_after is not None:
                response.headers["Retry-After"] = str(retry_after)
        elif kind == "unauthorized":
            response = error(401, "invalid_request_error", "Invalid API Key provided: sk_***")
        elif kind == "not_found":
            response = _missing("customer", "cus_missing", "id", 404)
        elif kind == "card_declined":
            response = error(
                402,
                "card_error",
                "Your card was declined.",
                "card_declined",
                decline_code="generic_decline",
            )
        elif kind == "lock_timeout":
            response = error(409, "invalid_request_error", "Object is locked.", "lock_timeout")
        else:
            response = error(500, "api_error", "Something went wrong on Stripe's end.")
        self.queued.append(response)

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):014d}"

    async def dispatch(self, request: Request) -> Response:
        rec = await record(request)
        self.requests.append(rec)
        if self.queued:
            return self.queued.pop(0)
        auth = rec.headers.get("authorization", "")
        key = auth.removeprefix("Bearer ")
        if not auth.startswith("Bearer ") or not key:
            return error(401, "invalid_request_error", "You did not provide an API key.")
        if key not in (SECRET_KEY, RESTRICTED_KEY):
            return error(401, "invalid_request_error", f"Invalid API Key provided: {key[:8]}***")
        if key == RESTRICTED_KEY and rec.method == "POST":
            return error(
                403,
                "invalid_request_error",
                "The provided key does not have the required permissions for this endpoint.",
            )
        params = unflatten(rec.form) if rec.method == "POST" else dict(rec.query)
        idem_key = rec.headers.get("idempotency-key") if rec.method == "POST" else None
        if idem_key:
            fingerprint = json.dumps([rec.path, params], sort_keys=True)
            saved = self.idempotent.get((key, idem_key))
            if saved is not None:
                if saved[0] != fingerprint:
                    return error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with.",
                    )
                replay = saved[1]
                return Response(
                    replay.body,
                    status_code=replay.status_code,
                    headers={**replay.headers, "Idempotent-Replayed": "true"},
                )
        response = self._route(rec.method, rec.path, params)
        if idem_key:
            self.idempotent[(key, idem_key)] = (fingerprint, response)
        return response

    def _route(self, method: str, path: str, params: dict[str, Any]) -> Response:
        if (method, path) == ("GET", "/v1/balance"):
            return _ok(
                {
                    "object": "balance",
                    "available": [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}],
                    "pending": [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}],
                    "livemode": False,
                }
            )
        if (method, path) == ("POST", "/v1/customers"):
            return self._create_customer(params)
        if (method, path) == ("GET", "/v1/customers"):
            limit = int(params.get("limit", 10))
            data = list(self.customers.values())[:limit]
            return _ok({"object": "list", "data": data, "has_more": False, "url": "/v1/customers"})
        if method == "GET" and (m := re.fullmatch(r"/v1/customers/([^/]+)", path)):
            customer = self.customers.get(m[1])
            return _ok(customer) if customer else _missing("customer", m[1], "id", 404)
        if (method, path) == ("POST", "/v1/invoices"):
            return self._create_invoice(params)
        if (method, path) == ("POST", "/v1/invoiceitems"):
            return self._create_invoice_item(params)
        if (method, path) == ("POST", "/v1/payment_intents"):
            return self._create_payment_intent(params)
        return error(
            404,
            "invalid_request_error",
            f"Unrecognized request URL ({method}: {path}).",
        )

    def _create_customer(self, params: dict[str, Any]) -> Response:
        customer = {
            "id": self._id("cus"),
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": int(time.time()),
            "currency": None,
            "description": params.get("description"),
            "email": params.get("email"),
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "name": params.get("name"),
            "phone": params.get("phone"),
        }
        self.customers[customer["id"]] = customer
        return _ok(customer)

    def _create_invoice(self, params: dict[str, Any]) -> Response:
        customer = params.get("customer")
        if not customer:
            return _param_missing("customer")
        if customer not in self.customers:
            return _missing("customer", customer, "customer", 400)
        method = params.get("collection_method", "charge_automatically")
        if method == "send_invoice" and "days_until_due" not in params:
            return _param_missing("days_until_due")
        invoice_id = self._id("in")
        pending = [
            item
            for item in self.invoice_items.values()
            if item["customer"] == customer and item["invoice"] is None
        ]
        lines = pending if params.get("pending_invoice_items_behavior") == "include" else []
        for item in lines:
            item["invoice"] = invoice_id
        total = sum(item["amount"] for item in lines)
        invoice = {
            "id": invoice_id,
            "object": "invoice",
            "customer": customer,
            "status": "draft",
            "currency": params.get("currency", "usd"),
            "amount_due": total,
            "total": total,
            "collection_method": method,
            "days_until_due": int(params["days_until_due"]) if "days_until_due" in params else None,
            "auto_advance": params.get("auto_advance") == "true",
            "description": params.get("description"),
            "hosted_invoice_url": None,
            "livemode": False,
            "metadata": params.get("metadata", {}),
        }
        self.invoices[invoice_id] = invoice
        return _ok(invoice)

    def _create_invoice_item(self, params: dict[str, Any]) -> Response:
        for name in ("customer", "currency", "amount"):
            if name not in params:
                return _param_missing(name)
        customer = params["customer"]
        if customer not in self.customers:
            return _missing("customer", customer, "customer", 400)
        invoice_id = params.get("invoice")
        if invoice_id is not None:
            invoice = self.invoices.get(invoice_id)
            if invoice is None:
                return _missing("invoice", invoice_id, "invoice", 400)
        item = {
            "id": self._id("ii"),
            "object": "invoiceitem",
            "amount": int(params["amount"]),
            "currency": params["currency"],
            "customer": customer,
            "description": params.get("description"),
            "invoice": invoice_id,
            "livemode": False,
            "metadata": params.get("metadata", {}),
        }
        self.invoice_items[item["id"]] = item
        if invoice_id is not None:
            self.invoices[invoice_id]["amount_due"] += item["amount"]
            self.invoices[invoice_id]["total"] += item["amount"]
        return _ok(item)

    def _create_payment_intent(self, params: dict[str, Any]) -> Response:
        for name in ("amount", "currency"):
            if name not in params:
                return _param_missing(name)
        if int(params["amount"]) < 50:
            return error(
                400,
                "invalid_request_error",
                "Amount must be at least $0.50 usd",
                "amount_too_small",
                param="amount",
            )
        customer = params.get("customer")
        if customer is not None and customer not in self.customers:
            return _missing("customer", customer, "customer", 400)
        intent_id = self._id("pi")
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "currency": params["currency"],
            "customer": customer,
            "description": params.get("description"),
            "receipt_email": params.get("receipt_email"),
            "payment_method_types": params.get("payment_method_types", ["card"]),
            "automatic_payment_methods": (
                {"enabled": params["automatic_payment_methods"]["enabled"] == "true"}
                if "automatic_payment_methods" in params
                else None
            ),
            "client_secret": f"{intent_id}_secret_fake",
            "status": "requires_payment_method",
            "livemode": False,
            "metadata": params.get("metadata", {}),
        }
        self.payment_intents[intent_id] = intent
        return _ok(intent)

    def app(self) -> Starlette:
        return Starlette(
            routes=[Route("/{path:path}", self.dispatch, methods=["GET", "POST", "DELETE"])]
        )


def _ok(body: dict[str, Any]) -> Response:
    return JSONResponse(body, headers=_request_id())


def _param_missing(name: str) -> Response:
    return error(
        400,
        "invalid_request_error",
        f"Missing required param: {name}.",
        "parameter_missing",
        param=name,
    )
