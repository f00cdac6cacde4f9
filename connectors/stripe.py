"""Stripe connector: customers, invoices, invoice items and payment intents.

Speaks the Stripe REST API (v1, form-encoded) through the official ``stripe``
SDK's ``StripeClient`` with its ``HTTPXClient`` in async mode, pointed at
``ctx.base_urls["stripe"]``. Auth: an ``api_key`` credential holding a secret key
(``sk_…``/``rk_…``) sent as ``Authorization: Bearer``. Every side-effecting call
carries ``Idempotency-Key: ctx.idempotency_key`` when one is set, so a retried
activity replays Stripe's first answer instead of creating a second object. The
SDK's own network retries are off: Temporal owns retries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

import stripe
from pydantic import BaseModel, ConfigDict, Field

from connectors.base import Action, ActionContext, Connector, CredentialField
from connectors.errors import (
    AuthError,
    ConnectorError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    TransientError,
    retry_after_seconds,
)

DEFAULT_BASE_URL = "https://api.stripe.com"

# The SDK otherwise writes a telemetry id under ~/.config and reports request timings
# to Stripe on later calls; a self-hosted orchestrator should not do either silently.
stripe.enable_telemetry = False

Metadata = dict[str, str]


class CreateCustomerInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = None
    name: str | None = None
    phone: str | None = None
    description: str | None = None
    metadata: Metadata = Field(default_factory=dict)


class RetrieveCustomerInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_]+$")


class CustomerOutput(BaseModel):
    id: str
    email: str | None = None
    name: str | None = None
    phone: str | None = None
    description: str | None = None
    metadata: Metadata = Field(default_factory=dict)
    created: int | None = None
    livemode: bool = False
    deleted: bool = False


class CreateInvoiceInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer: str = Field(min_length=1)
    description: str | None = None
    collection_method: Literal["charge_automatically", "send_invoice"] = "charge_automatically"
    days_until_due: int | None = Field(default=None, ge=0)
    auto_advance: bool | None = None
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    pending_invoice_items_behavior: Literal["include", "exclude"] | None = None
    metadata: Metadata = Field(default_factory=dict)


class InvoiceOutput(BaseModel):
    id: str
    customer: str | None = None
    status: str | None = None
    currency: str | None = None
    amount_due: int | None = None
    total: int | None = None
    collection_method: str | None = None
    hosted_invoice_url: str | None = None
    metadata: Metadata = Field(default_factory=dict)


class CreateInvoiceItemInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer: str = Field(min_length=1)
    amount: int = Field(description="In the currency's smallest unit; negative for a credit")
    currency: str = Field(min_length=3, max_length=3)
    description: str | None = None
    invoice: str | None = Field(default=None, description="Add to this draft invoice")
    metadata: Metadata = Field(default_factory=dict)


class InvoiceItemOutput(BaseModel):
    id: str
    customer: str | None = None
    amount: int | None = None
    currency: str | None = None
    description: str | None = None
    invoice: str | None = None


class CreatePaymentIntentInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(gt=0, description="In the currency's smallest unit")
    currency: str = Field(min_length=3, max_length=3)
    customer: str | None = None
    description: str | None = None
    receipt_email: str | None = None
    payment_method_types: list[str] | None = None
    automatic_payment_methods: bool | None = Field(
        default=None, description="Let Stripe pick payment methods from the Dashboard settings"
    )
    metadata: Metadata = Field(default_factory=dict)


class PaymentIntentOutput(BaseModel):
    id: str
    status: str | None = None
    amount: int | None = None
    currency: str | None = None
    customer: str | None = None
    client_secret: str | None = Field(
        default=None, description="For confirming on the client; treat as sensitive"
    )
    metadata: Metadata = Field(default_factory=dict)


def _params(data: BaseModel) -> dict[str, Any]:
    """The model as Stripe params: unset fields and empty metadata are left out."""
    return {k: v for k, v in data.model_dump(exclude_none=True).items() if v != {}}


def _loose(params: dict[str, Any]) -> Any:
    """Parameters validated by our input models, handed to the SDK's per-call TypedDicts."""
    return params


def _retry_after(headers: Any) -> float | None:
    value = None
    for key, raw in dict(headers or {}).items():
        if str(key).lower() == "retry-after":
            value = str(raw)
    return retry_after_seconds(value)


def _map_error(exc: stripe.StripeError) -> ConnectorError:
    status = exc.http_status
    message = f"Stripe: {exc.user_message or type(exc).__name__}"
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return AuthError(message, status_code=status)
    if isinstance(exc, stripe.RateLimitError):
        return RateLimitedError(message, retry_after=_retry_after(exc.headers))
    if isinstance(exc, stripe.InvalidRequestError):
        if status == 404:
            return NotFoundError(message, status_code=status)
        return InvalidInputError(message, status_code=status)
    if isinstance(exc, stripe.CardError | stripe.IdempotencyError):
        return InvalidInputError(message, status_code=status)
    if isinstance(exc, stripe.APIConnectionError):
        return TransientError(message, status_code=status)
    if status is not None and 400 <= status < 500 and status != 409:
        return InvalidInputError(message, status_code=status)
    # 5xx, 409 (a concurrent request holds the object) and unreadable answers.
    return TransientError(message, status_code=status)


class _Stripe:
    """A ``StripeClient`` for one action; closes its HTTP connections on exit."""

    def __init__(self, ctx: ActionContext) -> None:
        key = ctx.credentials.get("secret_key")
        if not key:
            raise AuthError("Stripe credential has no secret_key")
        self._http = stripe.HTTPXClient(timeout=ctx.timeout_seconds)
        self.client = stripe.StripeClient(
            str(key),
            base_addresses={"api": ctx.base_urls.get("stripe", DEFAULT_BASE_URL)},
            http_client=self._http,
            max_network_retries=0,
        )
        self.write_options: stripe.RequestOptions = (
            {"idempotency_key": ctx.idempotency_key} if ctx.idempotency_key else {}
        )

    async def __aenter__(self) -> _Stripe:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._http.close_async()


def _dump(obj: stripe.StripeObject) -> dict[str, Any]:
    return obj.to_dict(for_json=True)


async def _call(
    ctx: ActionContext, request: Callable[[_Stripe], Awaitable[stripe.StripeObject]]
) -> dict[str, Any]:
    """One SDK call on a fresh client, its errors mapped to ours, the object as JSON."""
    async with _Stripe(ctx) as s:
        try:
            return _dump(await request(s))
        except stripe.StripeError as exc:
            raise _map_error(exc) from exc


async def create_customer(ctx: ActionContext, data: CreateCustomerInput) -> CustomerOutput:
    """Create a customer (idempotent under ``ctx.idempotency_key``)."""
    return CustomerOutput.model_validate(
        await _call(
            ctx,
            lambda s: s.client.v1.customers.create_async(_loose(_params(data)), s.write_options),
        )
    )


async def retrieve_customer(ctx: ActionContext, data: RetrieveCustomerInput) -> CustomerOutput:
    """Fetch a customer; a deleted one comes back with ``deleted=True``."""
    return CustomerOutput.model_validate(
        await _call(ctx, lambda s: s.client.v1.customers.retrieve_async(data.customer_id))
    )


async def create_invoice(ctx: ActionContext, data: CreateInvoiceInput) -> InvoiceOutput:
    """Create a draft invoice for a customer."""
    return InvoiceOutput.model_validate(
        await _call(
            ctx, lambda s: s.client.v1.invoices.create_async(_loose(_params(data)), s.write_options)
        )
    )


async def create_invoice_item(
    ctx: ActionContext, data: CreateInvoiceItemInput
) -> InvoiceItemOutput:
    """Add a line to a customer's next (or the given draft) invoice."""
    return InvoiceItemOutput.model_validate(
        await _call(
            ctx,
            lambda s: s.client.v1.invoice_items.create_async(
                _loose(_params(data)), s.write_options
            ),
        )
    )


async def create_payment_intent(
    ctx: ActionContext, data: CreatePaymentIntentInput
) -> PaymentIntentOutput:
    """Create a payment intent (unconfirmed; the payer confirms with ``client_secret``)."""
    params = _params(data)
    if data.automatic_payment_methods is not None:
        params["automatic_payment_methods"] = {"enabled": data.automatic_payment_methods}
    return PaymentIntentOutput.model_validate(
        await _call(
            ctx, lambda s: s.client.v1.payment_intents.create_async(_loose(params), s.write_options)
        )
    )


async def test(ctx: ActionContext) -> dict[str, Any]:
    """Retrieve the account balance: cheap, read-only, needs a valid key."""
    balance = await _call(ctx, lambda s: s.client.v1.balance.retrieve_async())
    return {"livemode": bool(balance.get("livemode", False))}


CONNECTOR = Connector(
    type="stripe",
    name="Stripe",
    description="Customers, invoices and payments in Stripe",
    categories=("payments", "billing", "invoicing", "finance"),
    credential_type="api_key",
    credential_fields=(
        CredentialField("secret_key", description="Secret or restricted API key (sk_…/rk_…)"),
    ),
    actions={
        "create_customer": Action(
            name="create_customer",
            description="Create Stripe customer",
            input_model=CreateCustomerInput,
            output_model=CustomerOutput,
            handler=create_customer,
        ),
        "create_invoice": Action(
            name="create_invoice",
            description="Create invoice",
            input_model=CreateInvoiceInput,
            output_model=InvoiceOutput,
            handler=create_invoice,
        ),
        "create_invoice_item": Action(
            name="create_invoice_item",
            description="Add item to invoice",
            input_model=CreateInvoiceItemInput,
            output_model=InvoiceItemOutput,
            handler=create_invoice_item,
        ),
        "create_payment_intent": Action(
            name="create_payment_intent",
            description="Create payment intent",
            input_model=CreatePaymentIntentInput,
            output_model=PaymentIntentOutput,
            handler=create_payment_intent,
        ),
        "retrieve_customer": Action(
            name="retrieve_customer",
            description="Get customer details",
            input_model=RetrieveCustomerInput,
            output_model=CustomerOutput,
            handler=retrieve_customer,
            side_effecting=False,
        ),
    },
    test=test,
)
