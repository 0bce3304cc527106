"""The Stripe payment connector: capture, void and refund PaymentIntents; read Stripe's events.

Requests go through the shared :class:`hub.integration.http.HttpClient` with Stripe's
conventions: Bearer auth, form-encoded bodies (``a[b]=c``), ``Stripe-Version``,
and an ``Idempotency-Key`` on every POST — the key the hub's job hands over,
identical on every retry of that job, so a retried capture or refund is
replayed by Stripe instead of being made twice.

Retries follow Stripe's own library: connection errors, 409 and 5xx are
retried with backoff, ``Stripe-Should-Retry`` overrides the status either way,
and no other 4xx is retried by the client. A 429 is not retried by the
client either: the job is retried later (after ``Retry-After``). A 402 card
error raises :class:`PaymentDeclined`, which puts the order on hold.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests
from marshmallow import Schema, fields, validate, validates
from marshmallow import ValidationError as SchemaError

from hub.core.exceptions import (
    ExternalError,
    MalformedPayload,
    PaymentDeclined,
    RetryLater,
    SignatureError,
    ValidationError,
)
from hub.core.money import Money, MoneyError
from hub.core.order import PaymentUpdate, RefundData
from hub.integration.connectors import (
    Capability,
    PaymentConnector,
    PaymentRef,
    PaymentResult,
    RefundResult,
    WebhookOutcome,
    WebhookReceipt,
)
from hub.integration.http import HttpStatusError, json_body
from plugins.stripe import signature
from plugins.stripe.amounts import (
    from_stripe_amount,
    stripe_rounded,
    stripe_step,
    to_stripe_amount,
)

if TYPE_CHECKING:
    from hub.integration.port import HubPort

log = logging.getLogger(__name__)

API_BASE_URL = "https://api.stripe.com"
#: The API version the connector was written and tested against (sent as ``Stripe-Version``).
DEFAULT_API_VERSION = "2024-06-20"
#: Stripe refuses longer idempotency keys.
MAX_IDEMPOTENCY_KEY = 255

#: ``capture_on`` -> the order events after which the hub captures.
CAPTURE_EVENTS: dict[str, tuple[str, ...]] = {
    "confirm": ("order.confirmed",),
    "ship": ("order.partially_shipped", "order.shipped"),
}

#: The PaymentIntent events: what each says is read from the intent's own ``status``.
INTENT_EVENTS = frozenset(
    {
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "payment_intent.requires_action",
        "payment_intent.processing",
    }
)
#: Dispute events -> whether the payment is disputed after them. ``funds_reinstated``:
#: Stripe gave the money back, the dispute was won.
DISPUTE_EVENTS: dict[str, bool] = {
    "charge.dispute.created": True,
    "charge.dispute.funds_withdrawn": True,
    "charge.dispute.funds_reinstated": False,
}
#: The end of a dispute: ``lost`` leaves the payment disputed for good; ``won`` and
#: ``warning_closed`` (an inquiry that never became a chargeback) clear it.
DISPUTE_CLOSED = "charge.dispute.closed"
#: Refund events (a refund object, or a charge with its refunds).
REFUND_EVENTS = frozenset(
    {"charge.refunded", "charge.refund.updated", "refund.created", "refund.updated"}
)
#: The event types that change a payment; every other type is answered "ignored: <type>".
HANDLED_EVENTS = INTENT_EVENTS | REFUND_EVENTS | frozenset(DISPUTE_EVENTS) | {DISPUTE_CLOSED}

#: PaymentIntent statuses in which the customer still has to act (3-D Secure, a bank
#: redirect): the payment is neither authorised nor failed yet.
AWAITING_CUSTOMER_STATUSES = ("requires_action", "requires_confirmation")

#: PaymentIntent statuses Stripe can still cancel.
CANCELABLE_STATUSES = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)

#: Stripe refund status -> the hub's (``RefundResult.status``).
REFUND_STATUSES = {
    "succeeded": "succeeded",
    "pending": "pending",
    "requires_action": "pending",
    "failed": "failed",
    "canceled": "failed",
}


# --- results ----------------------------------------------------------------------------------


def rounding_message(requested: Money, done: Money, verb: str) -> str:
    """What a person is told when Stripe's steps changed an amount: "KWD 5.124 refunded as 5.120 at Stripe: …"."""
    step = Money(stripe_step(requested.currency), requested.currency)
    return (
        f"{requested.currency} {requested} {verb} as {done} at Stripe: Stripe takes three-decimal "
        f"currencies in multiples of {step}"
    )


# --- configuration ----------------------------------------------------------------------------


class StripeConfig(Schema):
    secret_key = fields.String(
        required=True,
        validate=validate.Length(min=8, max=255),
        metadata={
            "label": "Secret key",
            "secret": True,
            "help": "Your Stripe secret key (sk_live_… / sk_test_…) or a restricted key "
            "(rk_…) allowed to write PaymentIntents and Refunds.",
        },
    )
    webhook_secret = fields.String(
        load_default="",
        validate=validate.Length(max=255),
        metadata={
            "label": "Webhook signing secret",
            "secret": True,
            "help": "The endpoint's signing secret (whsec_…) from Stripe's webhook settings; "
            "without it every webhook is refused.",
        },
    )
    capture = fields.String(
        load_default="manual",
        validate=validate.OneOf(["automatic", "manual"]),
        metadata={
            "label": "Capture",
            "help": "manual: the hub captures authorised PaymentIntents (see Capture on); "
            "automatic: Stripe captured at checkout, the hub only voids and refunds.",
        },
    )
    capture_on = fields.String(
        load_default="confirm",
        validate=validate.OneOf(sorted(CAPTURE_EVENTS)),
        metadata={
            "label": "Capture on",
            "help": "confirm: capture when the order is confirmed; ship: when it (first) ships.",
        },
    )
    api_version = fields.String(
        load_default=DEFAULT_API_VERSION,
        validate=validate.Regexp(
            r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$",
            error="must be a Stripe API version such as 2024-06-20",
        ),
        metadata={"label": "API version", "help": "Sent as Stripe-Version on every request."},
    )
    api_base_url = fields.Url(
        load_default=API_BASE_URL,
        require_tld=False,
        schemes={"http", "https"},
        metadata={
            "label": "API base URL",
            "help": "Scheme, host and port; the default is Stripe itself.",
        },
    )
    webhook_tolerance = fields.Integer(
        load_default=signature.DEFAULT_TOLERANCE,
        strict=True,
        validate=validate.Range(min=0, max=86_400),
        metadata={
            "label": "Webhook tolerance (seconds)",
            "help": "Oldest signature timestamp accepted (replay protection); 0 turns the check off.",
        },
    )

    @validates("secret_key")
    def _check_secret_key(self, value: str, **kwargs) -> None:
        if value.startswith("pk_"):
            raise SchemaError("this is the publishable key (pk_…): use the secret key (sk_…)")
        if not value.startswith(("sk_", "rk_")):
            raise SchemaError("must be a Stripe secret key (sk_…) or restricted key (rk_…)")

    @validates("webhook_secret")
    def _check_webhook_secret(self, value: str, **kwargs) -> None:
        if value and not value.startswith("whsec_"):
            raise SchemaError("must be a webhook signing secret (whsec_…)")


# --- Stripe's wire conventions ----------------------------------------------------------------


def encode_form(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Flatten params the way Stripe reads them: ``a[b]=c``, lists as ``a[0]=x``.

    ``None`` values are left out; booleans are ``true``/``false``.
    """
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None:
            continue
        if isinstance(value, Mapping):
            pairs.extend(encode_form(value, name))
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    pairs.extend(encode_form(item, f"{name}[{i}]"))
                else:
                    pairs.append((f"{name}[{i}]", _scalar(item)))
        else:
            pairs.append((name, _scalar(value)))
    return pairs


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def idempotency_header(key: str) -> str:
    """The ``Idempotency-Key`` for ``key``: itself, or a stable digest when Stripe would refuse its length."""
    if not key:
        raise ValueError("a Stripe POST needs an idempotency key")
    if len(key) <= MAX_IDEMPOTENCY_KEY:
        return key
    return "hub-sha256-" + hashlib.sha256(key.encode()).hexdigest()


def should_retry(response: requests.Response) -> bool:
    """Stripe's client rule: ``Stripe-Should-Retry`` first, then 409 and 5xx; nothing else."""
    header = response.headers.get("Stripe-Should-Retry")
    if header == "true":
        return True
    if header == "false":
        return False
    return response.status_code == 409 or response.status_code >= 500


class StripeError(ExternalError):
    """Stripe answered with an error: its ``type``, ``code`` and message are kept."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        type: str = "",
        code: str = "",
        param: str = "",
        request_id: str = "",
        retry_after: float | None = None,
    ):
        super().__init__(
            message,
            retryable=retryable,
            retry_after=retry_after,
            status=status,
            details={
                k: v
                for k, v in {
                    "type": type,
                    "code": code,
                    "param": param,
                    "request_id": request_id,
                }.items()
                if v
            },
        )
        self.type, self.code, self.param, self.request_id = type, code, param, request_id


def error_from_response(exc: HttpStatusError, method: str, path: str) -> ExternalError:
    """Turn a Stripe error answer into the hub's error: declined, retry later, or final."""
    response = exc.response
    status = response.status_code
    if response.is_redirect:
        return exc  # a redirect, not followed: the client's error says where it pointed
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    error = error if isinstance(error, dict) else {}
    message = str(error.get("message") or f"HTTP {status} without a Stripe error body")
    code = str(error.get("code") or "")
    request_id = response.headers.get("Request-Id", "")
    if status == 402 or error.get("type") == "card_error":
        decline = str(error.get("decline_code") or code)
        return PaymentDeclined(
            f"Stripe declined: {message}" + (f" ({decline})" if decline else ""),
            decline_code=decline,
            status=status,
            details={"code": code, "request_id": request_id},
        )
    text = f"stripe: {method} {path} answered {status}: {message}" + (f" [{code}]" if code else "")
    if status in (401, 403):
        text += " — check the channel's secret key and its permissions"
    retryable = exc.retryable
    if status == 429:
        # Not retried at once (Stripe's rule), but the job may run again after the wait.
        retryable = True
    return StripeError(
        text,
        retryable=retryable,
        status=status,
        type=str(error.get("type") or ""),
        code=code,
        param=str(error.get("param") or ""),
        request_id=request_id,
        retry_after=exc.retry_after,
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def parse_event(body: bytes) -> dict[str, Any]:
    """A Stripe event from a verified body; MalformedPayload when it is not one."""
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedPayload(f"Stripe event is not JSON: {exc}") from exc
    if not isinstance(event, dict):
        raise MalformedPayload("Stripe event is not a JSON object")
    data = event.get("data")
    if (
        not isinstance(event.get("id"), str)
        or not event["id"]
        or not isinstance(event.get("type"), str)
        or not isinstance(data, dict)
        or not isinstance(data.get("object"), dict)
    ):
        raise MalformedPayload("Stripe event lacks id, type or data.object")
    return event


def _minor(amount: Any, currency: Any) -> int:
    """A Stripe integer amount as the hub's minor units of ``currency``."""
    try:
        return from_stripe_amount(int(amount), str(currency)).amount
    except (MoneyError, TypeError, ValueError) as exc:
        raise MalformedPayload(
            f"Stripe amount {amount!r} {currency!r} cannot be read: {exc}"
        ) from exc


#: What the hub shows for a payment whose customer still has to act at Stripe.
AWAITING_CUSTOMER = (
    "awaiting the customer's authentication at Stripe (3-D Secure or a bank redirect)"
)


def _decline_message(intent: Mapping[str, Any]) -> str:
    error = intent.get("last_payment_error") or {}
    message = error.get("message") or f"PaymentIntent {intent.get('id')} failed"
    code = error.get("decline_code") or error.get("code")
    return f"{message} ({code})" if code else message


def dispute_message(dispute: Mapping[str, Any], kind: str) -> str:
    """What a person is told of a dispute: "Dispute dp_1 (fraudulent): USD 10.00 withdrawn by Stripe"."""
    amount, currency = dispute.get("amount"), str(dispute.get("currency") or "usd")
    what = f"{amount} {currency}"
    if amount is not None:
        try:
            money = from_stripe_amount(int(amount), currency)
            what = f"{money.currency} {money}"
        except (MoneyError, TypeError, ValueError):
            pass
    head = f"Dispute {dispute.get('id', '?')} ({dispute.get('reason') or 'no reason given'})"
    if kind == "charge.dispute.funds_reinstated" or (
        kind == DISPUTE_CLOSED and dispute.get("status") == "won"
    ):
        return f"{head}: {what} reinstated by Stripe, the dispute was won"
    if kind == "charge.dispute.funds_withdrawn":
        return f"{head}: {what} withdrawn by Stripe until the dispute is decided"
    if kind == DISPUTE_CLOSED and dispute.get("status") == "lost":
        return f"{head}: {what} lost, the funds stay with the customer"
    if kind == DISPUTE_CLOSED:
        return f"{head}: {what} closed, status {dispute.get('status') or 'unknown'}"
    return f"{head}: {what} disputed, status {dispute.get('status') or 'unknown'}"


# --- the connector ----------------------------------------------------------------------------


class StripeConnector(PaymentConnector):
    name = "stripe"
    label = "Stripe"
    description = (
        "Payments: capture, void and refund PaymentIntents; Stripe webhooks drive payment status."
    )
    capabilities = frozenset({Capability.WEBHOOKS})
    config_schema = StripeConfig

    #: Client retries per request (Stripe's library defaults to 2); the job retries after that.
    max_retries = 3

    def __init__(self, channel):
        super().__init__(channel)
        self.http = self.http_client(
            self.config.get("api_base_url") or API_BASE_URL,
            headers={
                "Authorization": f"Bearer {self.config.get('secret_key', '')}",
                "Stripe-Version": self.config.get("api_version") or DEFAULT_API_VERSION,
                "Accept": "application/json",
            },
            max_retries=self.max_retries,
            backoff_base=0.5,
            backoff_cap=5.0,
            should_retry=should_retry,
        )

    def close(self) -> None:
        self.http.close()

    # --- requests ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Call Stripe; return the JSON answer or raise the hub's error for Stripe's."""
        kwargs: dict[str, Any] = {}
        if method == "POST":
            kwargs["headers"] = {"Idempotency-Key": idempotency_header(idempotency_key or "")}
            kwargs["data"] = encode_form(params or {})
        elif params:
            kwargs["params"] = encode_form(params)
        try:
            response = self.http.request(method, path, **kwargs)
        except HttpStatusError as exc:
            raise error_from_response(exc, method, path) from exc
        return json_body(response, "stripe")

    def retrieve_intent(self, intent_id: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/payment_intents/{quote(intent_id, safe='')}")

    @staticmethod
    def stripe_amount(amount: int, currency: str) -> int:
        try:
            return to_stripe_amount(Money(amount, currency))
        except MoneyError as exc:
            raise ValidationError(str(exc)) from exc

    @staticmethod
    def rounded(requested: Money, limit: int, verb: str) -> Money:
        """``requested`` as Stripe takes it, never above ``limit`` (nor above the request if more).

        ``limit`` is what Stripe holds: the authorisation for a capture, what is
        left to refund for a refund. See :func:`plugins.stripe.amounts.stripe_rounded`.
        """
        bound = Money(max(limit, requested.amount), requested.currency)
        sent = stripe_rounded(requested, at_most=bound)
        if sent.amount <= 0:
            raise ValidationError(
                f"{requested.currency} {requested} cannot be {verb} at Stripe: Stripe takes "
                f"three-decimal currencies in multiples of "
                f"{Money(stripe_step(requested.currency), requested.currency)}"
            )
        return sent

    # --- every connector -----------------------------------------------------------------------

    def check_connection(self) -> str:
        account = self.request("GET", "/v1/account")
        name = (
            ((account.get("settings") or {}).get("dashboard") or {}).get("display_name")
            or (account.get("business_profile") or {}).get("name")
            or ""
        )
        mode = (
            "test mode"
            if str(self.config.get("secret_key", "")).split("_")[1:2] == ["test"]
            else "live mode"
        )
        text = (
            f"Stripe account {account.get('id', '?')}"
            + (f" ({name})" if name else "")
            + f", {mode}"
        )
        if not self.config.get("webhook_secret"):
            text += "; no webhook signing secret set, so webhooks will be refused"
        return text

    def sign_webhook(
        self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """For tests: ``body`` signed as Stripe signs it (``Stripe-Signature: t=…,v1=…``)."""
        secret = str(self.config.get("webhook_secret") or "")
        return {**headers, signature.HEADER: signature.sign_header(body, secret)}, dict(query)

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]
    ) -> WebhookReceipt:
        header = _header(headers, signature.HEADER)
        if not header:
            raise SignatureError("missing Stripe-Signature header")
        signature.verify(
            body,
            header,
            self.config.get("webhook_secret") or "",
            tolerance=int(self.config.get("webhook_tolerance", signature.DEFAULT_TOLERANCE)),
        )
        event = parse_event(body)
        return WebhookReceipt(event_id=event["id"], topic=event["type"])

    # --- role "payment" ---------------------------------------------------------------------------

    def capture_events(self) -> tuple[str, ...]:
        if self.config.get("capture") == "automatic":
            return ()  # Stripe captured at checkout: nothing left for the hub to capture
        return CAPTURE_EVENTS[self.config.get("capture_on") or "confirm"]

    def capture(self, payment: PaymentRef, amount: int, *, idempotency_key: str) -> PaymentResult:
        """Capture ``amount``; a PaymentIntent captured already answers with its state, not an error.

        A three-decimal amount is rounded to Stripe's step first (never above the
        authorisation); the result records what Stripe captured and says so.
        """
        if amount <= 0:
            raise ValidationError(
                f"nothing to capture on payment {payment.reference}: amount is {amount}"
            )
        requested = Money(amount, payment.currency)
        sent = self.rounded(requested, payment.amount, "captured")
        params: dict[str, Any] = {}
        if sent.amount < payment.amount:
            params["amount_to_capture"] = self.stripe_amount(sent.amount, payment.currency)
        intent = self._intent_action(
            payment.reference, "capture", params, idempotency_key, actionable=("requires_capture",)
        )
        if intent.get("status") != "succeeded":
            # A replayed answer is a snapshot of its time: decide on the intent as it is now.
            intent = self.retrieve_intent(payment.reference)
        result = self._capture_outcome(intent)
        if sent == requested:
            return result
        done = Money(result.captured_amount, payment.currency)
        return PaymentResult(
            status=result.status,
            captured_amount=result.captured_amount,
            message=rounding_message(requested, done, "captured"),
        )

    def _intent_action(
        self,
        intent_id: str,
        action: str,
        params: dict[str, Any],
        idempotency_key: str,
        *,
        actionable: tuple[str, ...],
    ) -> dict[str, Any]:
        """POST ``…/{action}``; when Stripe refuses it for the intent's state, return the intent as it is.

        Captured or canceled before (a lost answer, the dashboard): Stripe answers
        ``payment_intent_unexpected_state`` and the intent itself says what is true.
        A server error Stripe stored for this key (``Stripe-Should-Retry: false``)
        would be replayed for 24 h: if the intent is still ``actionable``, the action
        is sent once more under a derived key. That is safe because a PaymentIntent
        is captured (or canceled) at most once, whatever the key, and the derived key
        is stable, so a retry of the job takes the same path.
        """
        path = f"/v1/payment_intents/{quote(intent_id, safe='')}/{action}"
        try:
            return self.request("POST", path, params, idempotency_key=idempotency_key)
        except StripeError as exc:
            server_error = (exc.status or 0) >= 500
            if exc.code != "payment_intent_unexpected_state" and not server_error:
                raise
            intent = self.retrieve_intent(intent_id)
            if intent.get("status") not in actionable:
                return intent
            if server_error and not exc.retryable:
                return self.request(
                    "POST", path, params, idempotency_key=f"{idempotency_key}:after-server-error"
                )
            raise

    def _capture_outcome(self, intent: Mapping[str, Any]) -> PaymentResult:
        status, pi = intent.get("status"), intent.get("id")
        if status == "succeeded":
            return PaymentResult(
                status="captured",
                captured_amount=_minor(intent.get("amount_received", 0), intent["currency"]),
            )
        if status in ("processing", "requires_capture"):
            raise RetryLater(
                f"PaymentIntent {pi} is {status}; checking again later", retry_after=60
            )
        if status in AWAITING_CUSTOMER_STATUSES:
            # Not declined: the customer has not finished authenticating (3-D Secure) yet.
            raise RetryLater(
                f"PaymentIntent {pi} is {status}: {AWAITING_CUSTOMER}", retry_after=900
            )
        if status == "canceled":
            reason = intent.get("cancellation_reason") or "no reason given"
            raise PaymentDeclined(
                f"PaymentIntent {pi} was canceled before capture ({reason})",
                decline_code="canceled",
                status=None,
            )
        raise PaymentDeclined(
            f"PaymentIntent {pi} is {status}, nothing to capture: {_decline_message(intent)}",
            decline_code=str(status),
            status=None,
        )

    def void(self, payment: PaymentRef, *, idempotency_key: str) -> PaymentResult:
        """Cancel the PaymentIntent; if it was captured meanwhile, say so (the hub then refunds)."""
        intent = self._intent_action(
            payment.reference, "cancel", {}, idempotency_key, actionable=CANCELABLE_STATUSES
        )
        status = intent.get("status")
        if status == "canceled":
            return PaymentResult(status="voided", captured_amount=0)
        if status == "succeeded":
            return PaymentResult(
                status="captured",
                captured_amount=_minor(intent.get("amount_received", 0), intent["currency"]),
            )
        raise StripeError(
            f"stripe: PaymentIntent {payment.reference} cannot be canceled: it is {status}",
            retryable=False,
            code="payment_intent_unexpected_state",
        )

    def refund(
        self, payment: PaymentRef, amount: int, *, idempotency_key: str, reason: str = ""
    ) -> RefundResult:
        """Refund ``amount``; a three-decimal amount is rounded to Stripe's step first (never
        above what is left to refund), and the result records what Stripe refunded and says so."""
        requested = Money(amount, payment.currency)
        sent = self.rounded(
            requested, payment.captured_amount - payment.refunded_amount, "refunded"
        )
        params: dict[str, Any] = {
            "payment_intent": payment.reference,
            "amount": self.stripe_amount(sent.amount, payment.currency),
            "metadata": {"hub_reason": reason[:500]} if reason else None,
        }
        refund = self.request("POST", "/v1/refunds", params, idempotency_key=idempotency_key)
        done = Money(
            _minor(refund["amount"], refund.get("currency") or payment.currency), payment.currency
        )
        return RefundResult(
            external_id=str(refund["id"]),
            amount=done.amount,
            status=REFUND_STATUSES.get(str(refund.get("status")), "pending"),
            message="" if sent == requested else rounding_message(requested, done, "refunded"),
        )

    # --- webhooks -------------------------------------------------------------------------------

    def handle_webhook(
        self, hub: HubPort, topic: str, body: bytes, headers: Mapping[str, str]
    ) -> WebhookOutcome:
        event = parse_event(body)
        kind = event["type"]
        if kind not in HANDLED_EVENTS:
            return WebhookOutcome.ignored(kind)
        occurred_at = datetime.fromtimestamp(int(event.get("created") or time.time()), UTC)
        update = self.payment_update(kind, event["data"]["object"], occurred_at)
        if update is None:
            return WebhookOutcome.ignored(f"{kind} names no PaymentIntent")
        if hub.apply_payment_update(update) is None:
            return WebhookOutcome.ignored("unknown payment")
        return WebhookOutcome.processed()

    def payment_update(self, kind: str, obj: dict[str, Any], at: datetime) -> PaymentUpdate | None:
        """What a Stripe event of type ``kind`` says about a payment; None if it names none."""
        if kind in INTENT_EVENTS:
            return self._intent_event(obj, at, kind=kind)
        if kind in DISPUTE_EVENTS:
            return self._dispute_event(obj, at, disputed=DISPUTE_EVENTS[kind], kind=kind)
        if kind == DISPUTE_CLOSED:
            return self._dispute_event(obj, at, disputed=obj.get("status") == "lost", kind=kind)
        if kind == "charge.refunded":
            return self._charge_refunded(obj, at)
        return self._refund_event(obj, at)  # charge.refund.updated, refund.created, refund.updated

    def _intent_event(self, intent: dict[str, Any], at: datetime, *, kind: str) -> PaymentUpdate:
        """The payment as the intent's ``status`` says it is, whatever the event's name.

        The status is the truth: a ``payment_intent.payment_failed`` whose intent is
        ``requires_capture`` (an attempt failed, then another succeeded before the
        event was read) is an authorised payment, not a failed one.
        """
        ref, cur, status = str(intent["id"]), intent.get("currency") or "usd", intent.get("status")
        update = PaymentUpdate(reference=ref, occurred_at=at)
        if status == "requires_capture":
            capturable = int(intent.get("amount_capturable") or 0)
            if capturable:
                update.status, update.amount = "authorized", _minor(capturable, cur)
        elif status == "succeeded":
            update.status = "captured"
            update.amount = _minor(intent.get("amount", 0), cur)
            update.captured_amount = _minor(intent.get("amount_received", 0), cur)
        elif status == "canceled":
            # By the hub's void, or behind its back ("automatic": the authorisation
            # expired after 7 days), which puts a live order on hold.
            update.status = "voided"
            update.failure_reason = (
                f"PaymentIntent canceled ({intent.get('cancellation_reason') or 'no reason given'})"
            )
        elif status in AWAITING_CUSTOMER_STATUSES:
            update.status, update.failure_reason = (
                "pending",
                f"PaymentIntent {ref} is {status}: {AWAITING_CUSTOMER}",
            )
        elif status == "requires_payment_method" and (
            kind == "payment_intent.payment_failed" or intent.get("last_payment_error")
        ):
            update.status, update.failure_reason = "failed", _decline_message(intent)
        elif status == "processing":
            update.status = "pending"
        return update

    def _dispute_event(
        self, dispute: dict[str, Any], at: datetime, *, disputed: bool, kind: str
    ) -> PaymentUpdate | None:
        """A dispute opened or its funds withdrawn (disputed), or its funds reinstated (won)."""
        ref = dispute.get("payment_intent")
        if not ref and dispute.get("charge"):
            ref = self.request("GET", f"/v1/charges/{quote(str(dispute['charge']), safe='')}").get(
                "payment_intent"
            )
        if not ref:
            return None
        return PaymentUpdate(
            reference=str(ref),
            occurred_at=at,
            disputed=disputed,
            failure_reason=dispute_message(dispute, kind),
        )

    def _charge_refunded(self, charge: dict[str, Any], at: datetime) -> PaymentUpdate | None:
        ref, cur = charge.get("payment_intent"), charge.get("currency") or "usd"
        if not ref:
            return None
        embedded = charge.get("refunds")
        if (
            isinstance(embedded, dict)
            and not embedded.get("has_more")
            and isinstance(embedded.get("data"), list)
        ):
            refunds = embedded["data"]
        else:
            # Since API version 2022-11-15 a charge no longer embeds its refunds.
            refunds = self._list_refunds(str(ref))
        return PaymentUpdate(
            reference=str(ref),
            occurred_at=at,
            captured_amount=_minor(charge["amount_captured"], cur)
            if "amount_captured" in charge
            else None,
            refunded_amount=_minor(charge.get("amount_refunded", 0), cur),
            refunds=[self._refund_data(r) for r in refunds],
        )

    def _refund_event(self, refund: dict[str, Any], at: datetime) -> PaymentUpdate | None:
        ref = refund.get("payment_intent")
        if not ref:
            return None
        return PaymentUpdate(
            reference=str(ref), occurred_at=at, refunds=[self._refund_data(refund)]
        )

    def _list_refunds(self, intent_id: str) -> list[dict[str, Any]]:
        refunds: list[dict[str, Any]] = []
        params: dict[str, Any] = {"payment_intent": intent_id, "limit": 100}
        while True:
            page = self.request("GET", "/v1/refunds", params)
            refunds.extend(page.get("data") or [])
            if not page.get("has_more") or not refunds:
                return refunds
            params["starting_after"] = refunds[-1]["id"]

    @staticmethod
    def _refund_data(refund: Mapping[str, Any]) -> RefundData:
        return RefundData(
            external_id=str(refund["id"]),
            amount=_minor(refund["amount"], refund["currency"]),
            status=REFUND_STATUSES.get(str(refund.get("status")), "pending"),
            reason=str(
                (refund.get("metadata") or {}).get("hub_reason") or refund.get("reason") or ""
            ),
        )
