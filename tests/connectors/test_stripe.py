"""The Stripe connector (official SDK) against a local Stripe API speaking Stripe's wire format."""

from __future__ import annotations

import pytest
import stripe
from pydantic import ValidationError

from connectors import stripe as stripe_connector
from connectors.base import ActionContext
from connectors.errors import (
    AuthError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)
from connectors.stripe import (
    CreateCustomerInput,
    CreateInvoiceInput,
    CreateInvoiceItemInput,
    CreatePaymentIntentInput,
    RetrieveCustomerInput,
)
from tests.fakes.stripe import RESTRICTED_KEY, SECRET_KEY, FakeStripe

# stripe's HTTPXClient posts its form body with httpx's deprecated ``data=<str>``.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


@pytest.fixture(autouse=True)
def _no_stripe_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    # Otherwise the SDK writes ~/.config/stripe/telemetry_id and reports the platform.
    monkeypatch.setattr(stripe, "enable_telemetry", False)


def ctx_for(
    fake: FakeStripe | str, *, key: str = SECRET_KEY, idempotency_key: str | None = None
) -> ActionContext:
    base = fake if isinstance(fake, str) else fake.base_url
    return ActionContext(
        credentials={"secret_key": key},
        base_urls={"stripe": base},
        idempotency_key=idempotency_key,
        timeout_seconds=5,
    )


async def new_customer(fake: FakeStripe, **fields: object) -> stripe_connector.CustomerOutput:
    return await stripe_connector.create_customer(
        ctx_for(fake), CreateCustomerInput.model_validate({"email": "ada@example.test", **fields})
    )


async def test_create_customer_sends_form_params_with_the_key(fake_stripe: FakeStripe):
    out = await stripe_connector.create_customer(
        ctx_for(fake_stripe, idempotency_key="wf-1/act-1"),
        CreateCustomerInput(
            email="ada@example.test", name="Ada Lovelace", metadata={"plan": "pro"}
        ),
    )

    assert out.id.startswith("cus_")
    assert (out.email, out.name, out.metadata) == (
        "ada@example.test",
        "Ada Lovelace",
        {"plan": "pro"},
    )
    [call] = fake_stripe.calls("POST", "/v1/customers")
    assert call.headers["authorization"] == f"Bearer {SECRET_KEY}"
    assert call.headers["idempotency-key"] == "wf-1/act-1"
    assert call.form == {
        "email": "ada@example.test",
        "name": "Ada Lovelace",
        "metadata[plan]": "pro",
    }


async def test_same_idempotency_key_twice_makes_one_customer(fake_stripe: FakeStripe):
    ctx = ctx_for(fake_stripe, idempotency_key="run-42/create_customer")
    data = CreateCustomerInput(email="ada@example.test")

    first = await stripe_connector.create_customer(ctx, data)
    second = await stripe_connector.create_customer(ctx, data)

    assert first == second
    assert len(fake_stripe.customers) == 1
    assert len(fake_stripe.calls("POST", "/v1/customers")) == 2


async def test_idempotency_key_reused_with_other_params_is_invalid_input(fake_stripe: FakeStripe):
    ctx = ctx_for(fake_stripe, idempotency_key="run-43")
    await stripe_connector.create_customer(ctx, CreateCustomerInput(email="a@example.test"))

    with pytest.raises(InvalidInputError):
        await stripe_connector.create_customer(ctx, CreateCustomerInput(email="b@example.test"))


async def test_retrieve_customer(fake_stripe: FakeStripe):
    created = await new_customer(fake_stripe, name="Ada")

    got = await stripe_connector.retrieve_customer(
        ctx_for(fake_stripe), RetrieveCustomerInput(customer_id=created.id)
    )

    assert got == created
    [call] = fake_stripe.calls("GET", f"/v1/customers/{created.id}")
    assert "idempotency-key" not in call.headers


async def test_invoice_items_then_invoice(fake_stripe: FakeStripe):
    customer = await new_customer(fake_stripe)

    item = await stripe_connector.create_invoice_item(
        ctx_for(fake_stripe, idempotency_key="k-item"),
        CreateInvoiceItemInput(
            customer=customer.id, amount=2500, currency="usd", description="Setup fee"
        ),
    )
    invoice = await stripe_connector.create_invoice(
        ctx_for(fake_stripe, idempotency_key="k-invoice"),
        CreateInvoiceInput(
            customer=customer.id,
            collection_method="send_invoice",
            days_until_due=30,
            pending_invoice_items_behavior="include",
            metadata={"order": "o-1"},
        ),
    )

    assert item.id.startswith("ii_") and item.amount == 2500 and item.invoice is None
    assert invoice.id.startswith("in_")
    assert (invoice.customer, invoice.status, invoice.amount_due) == (customer.id, "draft", 2500)
    assert invoice.collection_method == "send_invoice"
    [call] = fake_stripe.calls("POST", "/v1/invoices")
    assert call.headers["idempotency-key"] == "k-invoice"
    assert call.form["days_until_due"] == "30"
    assert call.form["metadata[order]"] == "o-1"


async def test_invoice_item_on_a_draft_invoice(fake_stripe: FakeStripe):
    customer = await new_customer(fake_stripe)
    invoice = await stripe_connector.create_invoice(
        ctx_for(fake_stripe), CreateInvoiceInput(customer=customer.id)
    )

    item = await stripe_connector.create_invoice_item(
        ctx_for(fake_stripe),
        CreateInvoiceItemInput(
            customer=customer.id, amount=999, currency="eur", invoice=invoice.id
        ),
    )

    assert item.invoice == invoice.id
    assert fake_stripe.invoices[invoice.id]["amount_due"] == 999


async def test_create_payment_intent(fake_stripe: FakeStripe):
    customer = await new_customer(fake_stripe)

    intent = await stripe_connector.create_payment_intent(
        ctx_for(fake_stripe, idempotency_key="k-pi"),
        CreatePaymentIntentInput(
            amount=4200,
            currency="usd",
            customer=customer.id,
            automatic_payment_methods=True,
            metadata={"order": "o-7"},
        ),
    )

    assert intent.id.startswith("pi_")
    assert (intent.amount, intent.currency, intent.status) == (
        4200,
        "usd",
        "requires_payment_method",
    )
    assert intent.client_secret and intent.client_secret.startswith(intent.id)
    [call] = fake_stripe.calls("POST", "/v1/payment_intents")
    assert call.form["automatic_payment_methods[enabled]"] == "true"
    assert call.headers["idempotency-key"] == "k-pi"


async def test_payment_method_types_are_sent_as_a_list(fake_stripe: FakeStripe):
    await stripe_connector.create_payment_intent(
        ctx_for(fake_stripe),
        CreatePaymentIntentInput(
            amount=1000, currency="eur", payment_method_types=["card", "sepa_debit"]
        ),
    )
    [call] = fake_stripe.calls("POST", "/v1/payment_intents")
    assert call.form["payment_method_types[0]"] == "card"
    assert call.form["payment_method_types[1]"] == "sepa_debit"


async def test_connector_test_reads_the_balance(fake_stripe: FakeStripe):
    assert stripe_connector.CONNECTOR.test is not None
    assert await stripe_connector.CONNECTOR.test(ctx_for(fake_stripe)) == {"livemode": False}
    assert len(fake_stripe.calls("GET", "/v1/balance")) == 1


async def test_invalid_key_is_an_auth_error(fake_stripe: FakeStripe):
    with pytest.raises(AuthError):
        await stripe_connector.CONNECTOR.test(ctx_for(fake_stripe, key="sk_test_wrong"))  # type: ignore[misc]


async def test_restricted_key_without_permission_is_an_auth_error(fake_stripe: FakeStripe):
    with pytest.raises(AuthError):
        await stripe_connector.create_customer(
            ctx_for(fake_stripe, key=RESTRICTED_KEY), CreateCustomerInput(email="a@b.test")
        )


async def test_missing_key_is_an_auth_error_without_a_request(fake_stripe: FakeStripe):
    ctx = ActionContext(credentials={}, base_urls={"stripe": fake_stripe.base_url})
    with pytest.raises(AuthError):
        await stripe_connector.create_customer(ctx, CreateCustomerInput())
    assert fake_stripe.requests == []


async def test_unknown_customer_is_not_found(fake_stripe: FakeStripe):
    with pytest.raises(NotFoundError):
        await stripe_connector.retrieve_customer(
            ctx_for(fake_stripe), RetrieveCustomerInput(customer_id="cus_nope")
        )


async def test_stripe_validation_errors_are_invalid_input(fake_stripe: FakeStripe):
    with pytest.raises(InvalidInputError):
        await stripe_connector.create_payment_intent(
            ctx_for(fake_stripe), CreatePaymentIntentInput(amount=10, currency="usd")
        )
    with pytest.raises(InvalidInputError):  # Stripe answers 400, not 404, for a bad param id
        await stripe_connector.create_invoice_item(
            ctx_for(fake_stripe),
            CreateInvoiceItemInput(customer="cus_nope", amount=100, currency="usd"),
        )
    with pytest.raises(InvalidInputError):
        await stripe_connector.create_invoice(
            ctx_for(fake_stripe),
            CreateInvoiceInput(customer="cus_nope", collection_method="send_invoice"),
        )


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("unauthorized", AuthError),
        ("not_found", NotFoundError),
        ("card_declined", InvalidInputError),
        ("lock_timeout", TransientError),
        ("server_error", TransientError),
    ],
)
async def test_vendor_failures_map_to_typed_errors(fake_stripe: FakeStripe, kind: str, error: type):
    fake_stripe.fail_next(kind)

    with pytest.raises(error):
        await stripe_connector.create_customer(ctx_for(fake_stripe), CreateCustomerInput())

    assert len(fake_stripe.requests) == 1  # the SDK did not retry on its own


async def test_rate_limit_is_rate_limited_and_not_retried(fake_stripe: FakeStripe):
    fake_stripe.fail_next("rate_limited")
    fake_stripe.fail_next("rate_limited", retry_after=3)

    with pytest.raises(RateLimitedError) as first:
        await stripe_connector.create_customer(ctx_for(fake_stripe), CreateCustomerInput())
    with pytest.raises(RateLimitedError) as second:
        await stripe_connector.create_customer(ctx_for(fake_stripe), CreateCustomerInput())

    assert first.value.retry_after is None
    assert second.value.retry_after == 3
    assert len(fake_stripe.requests) == 2


async def test_unreachable_stripe_is_transient(closed_port_url: str):
    with pytest.raises(TransientError):
        await stripe_connector.create_customer(ctx_for(closed_port_url), CreateCustomerInput())


def test_inputs_reject_unknown_fields_and_bad_ids():
    with pytest.raises(ValidationError):
        CreateCustomerInput.model_validate({"email": "a@b.test", "plan": "pro"})
    with pytest.raises(ValidationError):
        RetrieveCustomerInput(customer_id="../balance")
    with pytest.raises(ValidationError):
        CreatePaymentIntentInput(amount=0, currency="usd")


def test_connector_declares_its_credential():
    c = stripe_connector.CONNECTOR
    assert c.credential_type == "api_key"
    assert c.required_fields() == ["secret_key"] == c.secret_fields()
    assert set(c.actions) == {
        "create_customer",
        "create_invoice",
        "create_invoice_item",
        "create_payment_intent",
        "retrieve_customer",
    }
    assert c.actions["retrieve_customer"].side_effecting is False
