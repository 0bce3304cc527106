"""A Stripe sandbox: a WSGI simulator of the part of Stripe's API the connector uses.

It powers the integration tests, ``hub demo`` and the benchmarks. It behaves
like Stripe where the connector's correctness depends on it:

- PaymentIntents: create (and confirm, for tests), confirm, retrieve,
  capture (``amount_to_capture`` ≤ capturable), cancel; Stripe's status rules
  and its ``payment_intent_unexpected_state`` error;
- refunds: partial and several, never more than captured (Stripe's error),
  listed per PaymentIntent; charges embed no refunds (API ≥ 2022-11-15);
- amounts in Stripe's three-decimal currencies (BHD, JOD, KWD, OMR, TND)
  whose last digit is not 0 are refused (``invalid_request_error`` naming
  the ``param``), as Stripe refuses them (stripe.com/docs/currencies);
- the test payment method ``pm_card_authenticationRequired`` leaves an
  intent ``requires_action`` (3-D Secure) until :meth:`StripeSandbox.authenticate`;
- disputes: opened with their funds withdrawn, then won (funds reinstated)
  or lost (:meth:`StripeSandbox.dispute`, :meth:`StripeSandbox.close_dispute`);
- objects carry every top-level key of Stripe's own fixtures (stripe/openapi
  ``fixtures3.json``), so a field the connector starts reading exists here;
- idempotency: a POST with an ``Idempotency-Key`` seen before gets the first
  answer replayed (``Idempotent-Replayed: true``), 500s included; the same key
  with other parameters gets 400 ``idempotency_error``; the same key while
  the first request still runs gets 409. Requests refused before the endpoint
  ran (bad parameters, auth, injected "before" faults) are not remembered;
- Stripe's error shape ``{"error": {"type", "code", "decline_code", "message", "param"}}``,
  Bearer (or Basic) auth, unknown parameters refused;
- failures planned with ``sandbox.faults`` (:class:`hub.integration.sandbox.FaultPlan`,
  per path glob): 429/5xx before the endpoint runs, a lost answer after it ran,
  timeouts, resets, and ``when="stored"``: a 500 Stripe keeps under the key;
- :attr:`StripeSandbox.effects` counts what was really done (captures,
  refunds, cancels), so a test can prove nothing happened twice;
- events signed exactly like Stripe (``Stripe-Signature: t=…,v1=…``),
  delivered to URLs or callables (:meth:`StripeSandbox.deliver_pending`).

Serve it with :func:`hub.integration.sandbox.serve` (or any WSGI server).
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from werkzeug.wrappers import Request, Response

from hub.core.money import Money
from hub.integration.sandbox import Answer, Sandbox, Strike, route
from plugins.stripe import signature
from plugins.stripe.amounts import (
    STRIPE_THREE_DECIMAL,
    STRIPE_THREE_DECIMAL_STEP,
    stripe_rounded,
    to_stripe_amount,
)
from plugins.stripe.connector import DEFAULT_API_VERSION

DEFAULT_SECRET_KEY = "sk_test_hubsandbox0000000000"
DEFAULT_WEBHOOK_SECRET = "whsec_hubsandbox0000000000"

#: Test payment methods, as Stripe's test mode names them: (code, decline_code, message).
DECLINING_PAYMENT_METHODS: dict[str, tuple[str, str, str]] = {
    "pm_card_chargeDeclined": ("card_declined", "generic_decline", "Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": (
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "pm_card_chargeDeclinedExpiredCard": ("expired_card", "expired_card", "Your card has expired."),
}

#: Test payment methods that need the customer's authentication (3-D Secure) first.
AUTHENTICATION_REQUIRED = frozenset({"pm_card_authenticationRequired"})

#: Top-level keys of Stripe's objects the sandbox has no use for: present (as in
#: Stripe's fixtures, stripe/openapi fixtures3.json) and null.
INTENT_NULL_KEYS = (
    "application",
    "application_fee_amount",
    "customer",
    "customer_account",
    "description",
    "excluded_payment_method_types",
    "managed_payments",
    "on_behalf_of",
    "payment_method_configuration_details",
    "processing",
    "receipt_email",
    "review",
    "setup_future_usage",
    "shipping",
    "source",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "transfer_data",
    "transfer_group",
)
CHARGE_NULL_KEYS = (
    "application",
    "application_fee",
    "application_fee_amount",
    "calculated_statement_descriptor",
    "customer",
    "description",
    "failure_balance_transaction",
    "failure_code",
    "failure_message",
    "on_behalf_of",
    "receipt_email",
    "receipt_number",
    "review",
    "shipping",
    "source",
    "source_transfer",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "transfer_data",
    "transfer_group",
)
REFUND_NULL_KEYS = (
    "customer",
    "customer_account",
    "receipt_number",
    "source_transfer_reversal",
    "transfer_reversal",
)

CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)

#: Parameters each endpoint accepts (the part before any ``[``); others are refused like Stripe does.
ALLOWED_PARAMS: dict[str, set[str]] = {
    "create_intent": {
        "amount",
        "currency",
        "capture_method",
        "confirm",
        "payment_method",
        "metadata",
        "description",
        "expand",
        "payment_method_types",
    },
    "confirm_intent": {"payment_method", "expand"},
    "capture_intent": {"amount_to_capture", "metadata", "expand", "statement_descriptor"},
    "cancel_intent": {"cancellation_reason", "expand"},
    "create_refund": {"payment_intent", "charge", "amount", "metadata", "reason", "expand"},
}


class _Refused(Answer):
    """An answer given before the endpoint ran: never remembered under an idempotency key."""


@dataclass
class _Stored:
    """What an idempotency key holds: the request's fingerprint, then its answer."""

    fingerprint: tuple
    status: int | None = None
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class SandboxRequest:
    method: str
    path: str
    headers: dict[str, str]
    form: list[tuple[str, str]]
    query: list[tuple[str, str]]

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")


class StripeSandbox(Sandbox):
    """The simulator; a WSGI application. All state is in memory and thread-safe.

    Its faults may also strike ``when="stored"``: the endpoint fails without an
    effect and Stripe keeps the 500 under the idempotency key (replayed with
    ``Stripe-Should-Retry: false``). A ``"timeout"`` struck ``"after"`` keeps the
    key in flight while held: a concurrent retry gets 409.
    """

    fault_times = ("before", "after", "stored")

    def __init__(
        self,
        *,
        secret_key: str = DEFAULT_SECRET_KEY,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        api_version: str = DEFAULT_API_VERSION,
        clock: Callable[[], float] = time.time,
    ):
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        self.api_version = api_version
        self.clock = clock
        super().__init__()
        self.intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, _Stored] = {}
        #: What really happened, by kind: ``captures``, ``refunds``, ``cancels``, ``confirmations``.
        self.effects: Counter[str] = Counter()
        #: Answers replayed for an idempotency key seen before.
        self.replays = 0
        self.requests: list[SandboxRequest] = []
        #: Every event emitted, oldest first; :meth:`deliver_pending` sends the undelivered ones.
        self.events: list[dict[str, Any]] = []
        self._undelivered: list[dict[str, Any]] = []
        #: Where events go: URLs (POSTed) or callables ``target(body: bytes, headers: dict)``.
        self.webhook_targets: list[str | Callable[[bytes, dict[str, str]], Any]] = []
        #: Deliver each event in a background thread as soon as it is emitted (the demo).
        self.auto_deliver = False
        #: Statuses the next refunds get (then "succeeded"): e.g. ["failed"] or ["pending"].
        self.refund_statuses: list[str] = []
        self._deliver_lock = threading.Lock()

    # --- faults -----------------------------------------------------------------------------------

    def fault_response(self, strike: Strike, request: Request) -> Response:
        """A planned failure in Stripe's error shape (``Retry-After`` on any status, if given)."""
        status = strike.status
        headers = {}
        if strike.retry_after is not None:
            headers["Retry-After"] = str(strike.retry_after)
        if status == 429:
            return self._error(
                429,
                "invalid_request_error",
                "Too many requests hit the API too quickly. "
                "We recommend an exponential backoff of your requests.",
                code="rate_limit",
                headers=headers,
            )
        if status == 504:
            return self._error(504, "api_error", "The request timed out.", headers=headers)
        if status >= 500:
            return self._error(status, "api_error", "An unknown error occurred", headers=headers)
        if status == 402:
            return self._error(
                402,
                "card_error",
                "Your card was declined.",
                code="card_declined",
                decline_code="generic_decline",
                headers=headers,
            )
        return self._error(status, "invalid_request_error", "Injected error", headers=headers)

    @staticmethod
    def _unstruck(strike: Strike | None, response: Response) -> Response:
        """``response`` as it is: the endpoint did not run, so no fault "after" it applies."""
        if strike is not None:
            strike.settled = True
        return response

    # --- WSGI -------------------------------------------------------------------------------------

    def seen(self, request: Request) -> None:
        with self.lock:
            self.requests.append(
                SandboxRequest(
                    request.method,
                    request.path,
                    dict(request.headers),
                    list(request.form.items(multi=True)),
                    list(request.args.items(multi=True)),
                )
            )

    def handle(self, request: Request) -> Response:
        method, path = request.method, request.path
        strike = self.strike_of(request)
        refused = self._check_auth(request.headers.get("Authorization", ""))
        if refused is not None:
            return self._unstruck(strike, refused)
        found = self.match(request)
        if found is None:
            return self._unstruck(
                strike,
                self._error(
                    404,
                    "invalid_request_error",
                    f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs.",
                ),
            )
        _, args, rule = found
        endpoint = str(rule.endpoint)
        form = list(request.form.items(multi=True))
        params = form if method == "POST" else list(request.args.items(multi=True))
        key = request.headers.get("Idempotency-Key") if method == "POST" else None
        if not key:
            return self._run(endpoint, args, params, strike)
        return self._run_idempotent(key, endpoint, args, params, strike, method, path)

    def _run(
        self, endpoint: str, args: dict, params: list[tuple[str, str]], strike: Strike | None
    ) -> Response:
        try:
            return self._execute(endpoint, args, params)
        except _Refused as refused:
            return self._unstruck(strike, refused.response)

    def _run_idempotent(
        self,
        key: str,
        endpoint: str,
        args: dict,
        params: list[tuple[str, str]],
        strike: Strike | None,
        method: str,
        path: str,
    ) -> Response:
        if len(key) > 255:
            return self._unstruck(
                strike,
                self._error(
                    400,
                    "invalid_request_error",
                    "Keys for idempotent requests can only be 255 characters long.",
                ),
            )
        fingerprint = (method, path, tuple(sorted(params)))
        with self.lock:
            stored = self.idempotency.get(key)
            if stored is not None:
                if stored.status is None:
                    return self._unstruck(
                        strike,
                        self._error(
                            409,
                            "idempotency_error",
                            "There is currently another in-progress request using this "
                            "Idempotent Key (that probably means you submitted twice, and the "
                            "other request is still going through): "
                            + key
                            + ". Please try again later.",
                            code="idempotency_key_in_use",
                        ),
                    )
                if stored.fingerprint != fingerprint:
                    return self._unstruck(
                        strike,
                        self._error(
                            400,
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with. Try using a key other than '"
                            + key
                            + "' if you meant to execute a different request.",
                        ),
                    )
                replay = Response(
                    stored.body,
                    status=stored.status,
                    headers=stored.headers,
                    content_type="application/json",
                )
                replay.headers["Idempotent-Replayed"] = "true"
                self.replays += 1
                return self._unstruck(strike, replay)
            stored = _Stored(fingerprint)
            self.idempotency[key] = stored  # in flight
        try:
            if strike is not None and strike.when == "stored":
                response = self._error(
                    500,
                    "api_error",
                    "An unknown error occurred",
                    headers={"Stripe-Should-Retry": "false"},
                )
            else:
                response = self._execute(endpoint, args, params)
        except _Refused as refused:
            with self.lock:
                del self.idempotency[key]
            return self._unstruck(strike, refused.response)
        except BaseException:
            with self.lock:
                del self.idempotency[key]
            raise
        if strike is not None and strike.when == "after" and strike.kind == "timeout":
            self.hold(strike.seconds)  # still in flight: a concurrent retry gets 409
            strike.settled = True
        with self.lock:
            stored.status = response.status_code
            stored.body = response.get_data()
            stored.headers = [
                (k, v) for k, v in response.headers.items() if k.lower() != "content-type"
            ]
        return response  # a fault "after" replaces it on the way out (Sandbox.__call__)

    def _check_auth(self, header: str) -> Response | None:
        given = ""
        if header.startswith("Bearer "):
            given = header[len("Bearer ") :]
        elif header.startswith("Basic "):
            try:
                given = base64.b64decode(header[len("Basic ") :]).decode().split(":", 1)[0]
            except (ValueError, UnicodeDecodeError):
                given = ""
        if not given:
            return self._error(
                401,
                "invalid_request_error",
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
            )
        if not secrets.compare_digest(given.encode(), self.secret_key.encode()):
            return self._error(
                401, "invalid_request_error", f"Invalid API Key provided: {_mask(given)}"
            )
        return None

    def _execute(self, endpoint: str, args: dict, params: list[tuple[str, str]]) -> Response:
        allowed = ALLOWED_PARAMS.get(endpoint.removeprefix("_ep_"))
        if allowed is not None:
            for name, _ in params:
                if name.split("[", 1)[0] not in allowed:
                    raise _Refused(
                        self._error(
                            400,
                            "invalid_request_error",
                            f"Received unknown parameter: {name}",
                            code="parameter_unknown",
                            param=name,
                        )
                    )
        flat = dict(params)
        with self.lock:
            status, body = getattr(self, endpoint)(flat, **args)
        return self._json(status, body)

    # --- responses ----------------------------------------------------------------------------

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
        response = Response(
            json.dumps(body, indent=2), status=status, content_type="application/json"
        )
        response.headers["Request-Id"] = "req_" + secrets.token_hex(7)
        response.headers["Stripe-Version"] = self.api_version
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response

    def _error(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> Response:
        error: dict[str, Any] = {"type": type_, "message": message}
        if code:
            error["code"] = code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            error["param"] = param
        if decline_code:
            error["decline_code"] = decline_code
        error.update(extra)
        return self._json(status, {"error": error}, headers)

    def _refuse(self, status: int, message: str, **kwargs: Any) -> _Refused:
        return _Refused(self._error(status, "invalid_request_error", message, **kwargs))

    # --- objects -----------------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{secrets.token_hex(12)}"

    def _now(self) -> int:
        return int(self.clock())

    def _intent(self, intent_id: str) -> dict[str, Any]:
        intent = self.intents.get(intent_id)
        if intent is None:
            raise self._refuse(
                404,
                f"No such payment_intent: '{intent_id}'",
                code="resource_missing",
                param="intent",
            )
        return intent

    def _int(self, params: dict[str, str], name: str) -> int | None:
        value = params.get(name)
        if value is None or value == "":
            return None
        if not (value.isascii() and value.isdigit()):
            raise self._refuse(
                400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=name
            )
        return int(value)

    def _required_int(self, params: dict[str, str], name: str) -> int:
        value = self._int(params, name)
        if value is None:
            raise self._refuse(
                400, f"Missing required param: {name}.", code="parameter_missing", param=name
            )
        return value

    def _check_step(self, amount: int, currency: str, param: str) -> None:
        """Refuse what Stripe refuses: a three-decimal currency amount whose last digit is not 0."""
        if currency.upper() in STRIPE_THREE_DECIMAL and amount % STRIPE_THREE_DECIMAL_STEP:
            raise self._refuse(
                400,
                f"Invalid {param}: {amount} {currency.lower()}. Amounts in three-decimal "
                "currencies must have 0 as their least-significant digit (round to the nearest "
                "ten). See https://stripe.com/docs/currencies#three-decimal.",
                param=param,
            )

    @staticmethod
    def _metadata(params: dict[str, str]) -> dict[str, str]:
        return {
            k[len("metadata[") : -1]: v
            for k, v in params.items()
            if k.startswith("metadata[") and k.endswith("]")
        }

    def _new_intent(
        self,
        amount: int,
        currency: str,
        capture_method: str,
        metadata: dict[str, str],
        intent_id: str | None = None,
    ) -> dict[str, Any]:
        pi = intent_id or self._id("pi")
        intent: dict[str, Any] = {
            "id": pi,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "currency": currency,
            "capture_method": capture_method,
            "status": "requires_payment_method",
            "latest_charge": None,
            "last_payment_error": None,
            "payment_method": None,
            "canceled_at": None,
            "cancellation_reason": None,
            "created": self._now(),
            "livemode": False,
            "metadata": metadata,
            "client_secret": f"{pi}_secret_{secrets.token_hex(12)}",
            "confirmation_method": "automatic",
            "next_action": None,
            "payment_method_types": ["card"],
            "amount_details": {"tip": {}},
            "automatic_payment_methods": None,
            "payment_method_options": {},
            **dict.fromkeys(INTENT_NULL_KEYS),
        }
        self.intents[intent["id"]] = intent
        return intent

    def _confirm(self, intent: dict[str, Any], payment_method: str) -> tuple[int, dict[str, Any]]:
        intent["payment_method"] = payment_method
        self.effects["confirmations"] += 1
        decline = DECLINING_PAYMENT_METHODS.get(payment_method)
        if decline is not None:
            code, decline_code, message = decline
            intent["status"] = "requires_payment_method"
            intent["last_payment_error"] = {
                "type": "card_error",
                "code": code,
                "decline_code": decline_code,
                "message": message,
            }
            self.emit("payment_intent.payment_failed", intent)
            error = {
                "type": "card_error",
                "code": code,
                "decline_code": decline_code,
                "message": message,
                "payment_intent": copy.deepcopy(intent),
            }
            return 402, {"error": error}
        if payment_method in AUTHENTICATION_REQUIRED and intent["status"] != "requires_action":
            intent["status"] = "requires_action"
            intent["next_action"] = {
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect"},
            }
            self.emit("payment_intent.requires_action", intent)
            return 200, copy.deepcopy(intent)
        intent["next_action"] = None
        charge = {
            "id": self._id("ch"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": 0,
            "amount_refunded": 0,
            "captured": False,
            "refunded": False,
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "status": "succeeded",
            "disputed": False,
            "created": self._now(),
            "livemode": False,
            "paid": True,
            "payment_method": payment_method,
            "metadata": dict(intent["metadata"]),
            "fraud_details": {},
            "billing_details": dict.fromkeys(("address", "email", "name", "phone", "tax_id")),
            "outcome": {
                "network_status": "approved_by_network",
                "reason": None,
                "risk_level": "normal",
                "seller_message": "Payment complete.",
                "type": "authorized",
            },
            "payment_method_details": {"type": "card", "card": {"brand": "visa", "last4": "4242"}},
            "balance_transaction": self._id("txn"),
            "receipt_url": f"https://pay.stripe.com/receipts/payment/{secrets.token_hex(12)}",
            **dict.fromkeys(CHARGE_NULL_KEYS),
        }
        self.charges[charge["id"]] = charge
        intent["latest_charge"] = charge["id"]
        intent["last_payment_error"] = None
        if intent["capture_method"] == "manual":
            intent["status"] = "requires_capture"
            intent["amount_capturable"] = intent["amount"]
            self.emit("payment_intent.amount_capturable_updated", intent)
        else:
            self._do_capture(intent, intent["amount"])
        return 200, copy.deepcopy(intent)

    def _do_capture(self, intent: dict[str, Any], amount: int) -> None:
        charge = self.charges[intent["latest_charge"]]
        intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
        charge.update(captured=True, amount_captured=amount)
        self.effects["captures"] += 1
        self.emit("payment_intent.succeeded", intent)

    def _charge_of(self, intent: dict[str, Any]) -> dict[str, Any] | None:
        return self.charges.get(intent.get("latest_charge") or "")

    # --- endpoints (each returns (status, body); run under the lock) ---------------------------------

    @route("/v1/payment_intents", methods=["POST"])
    def _ep_create_intent(self, params: dict[str, str]):
        amount = self._required_int(params, "amount")
        currency = params.get("currency")
        if not currency:
            raise self._refuse(
                400, "Missing required param: currency.", code="parameter_missing", param="currency"
            )
        capture_method = params.get("capture_method", "automatic")
        if capture_method not in ("automatic", "automatic_async", "manual"):
            raise self._refuse(
                400,
                f"Invalid capture_method: {capture_method}",
                code="parameter_invalid_string",
                param="capture_method",
            )
        if amount < 1:
            raise self._refuse(
                400, "Amount must be at least 1", code="amount_too_small", param="amount"
            )
        self._check_step(amount, currency, "amount")
        intent = self._new_intent(
            amount,
            currency.lower(),
            "manual" if capture_method == "manual" else "automatic",
            self._metadata(params),
        )
        payment_method = params.get("payment_method")
        if payment_method:
            intent["payment_method"] = payment_method
            intent["status"] = "requires_confirmation"
        if params.get("confirm") == "true":
            if not payment_method:
                raise self._refuse(
                    400,
                    "You cannot confirm this PaymentIntent because it's missing a payment method.",
                    code="payment_intent_unexpected_state",
                )
            return self._confirm(intent, payment_method)
        return 200, copy.deepcopy(intent)

    @route("/v1/payment_intents/<intent_id>/confirm", methods=["POST"])
    def _ep_confirm_intent(self, params: dict[str, str], intent_id: str):
        intent = self._intent(intent_id)
        if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
            return self._unexpected_state(
                intent, "confirm", ("requires_payment_method", "requires_confirmation")
            )
        payment_method = params.get("payment_method") or intent.get("payment_method")
        if not payment_method:
            raise self._refuse(
                400,
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                code="payment_intent_unexpected_state",
            )
        return self._confirm(intent, payment_method)

    @route("/v1/payment_intents/<intent_id>", methods=["GET"])
    def _ep_get_intent(self, params: dict[str, str], intent_id: str):
        return 200, copy.deepcopy(self._intent(intent_id))

    @route("/v1/payment_intents/<intent_id>/capture", methods=["POST"])
    def _ep_capture_intent(self, params: dict[str, str], intent_id: str):
        intent = self._intent(intent_id)
        if intent["status"] != "requires_capture":
            return self._unexpected_state(intent, "capture", ("requires_capture",))
        amount = self._int(params, "amount_to_capture")
        if amount is None:
            amount = intent["amount_capturable"]
        self._check_step(amount, intent["currency"], "amount_to_capture")
        if amount > intent["amount_capturable"]:
            return self._error_tuple(
                400,
                "invalid_request_error",
                "The amount_to_capture must be less than or equal to the "
                f"amount_capturable ({intent['amount_capturable']}).",
                code="amount_too_large",
                param="amount_to_capture",
            )
        self._do_capture(intent, amount)
        return 200, copy.deepcopy(intent)

    @route("/v1/payment_intents/<intent_id>/cancel", methods=["POST"])
    def _ep_cancel_intent(self, params: dict[str, str], intent_id: str):
        intent = self._intent(intent_id)
        if intent["status"] not in CANCELABLE:
            return self._unexpected_state(intent, "cancel", CANCELABLE)
        intent.update(
            status="canceled",
            amount_capturable=0,
            canceled_at=self._now(),
            cancellation_reason=params.get("cancellation_reason"),
        )
        self.effects["cancels"] += 1
        self.emit("payment_intent.canceled", intent)
        return 200, copy.deepcopy(intent)

    @route("/v1/refunds", methods=["POST"])
    def _ep_create_refund(self, params: dict[str, str]):
        intent_id = params.get("payment_intent")
        charge_id = params.get("charge")
        if intent_id:
            intent = self._intent(intent_id)
            charge = self._charge_of(intent)
        elif charge_id:
            charge = self.charges.get(charge_id)
            if charge is None:
                raise self._refuse(
                    404, f"No such charge: '{charge_id}'", code="resource_missing", param="charge"
                )
            intent = self.intents[charge["payment_intent"]]
        else:
            raise self._refuse(
                400,
                "One of the following params should be provided for this request: "
                "payment_intent or charge.",
                code="parameter_missing",
            )
        if intent["status"] != "succeeded" or charge is None:
            return self._error_tuple(
                400,
                "invalid_request_error",
                f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                code="payment_intent_unexpected_state",
                param="payment_intent",
            )
        remaining = charge["amount_captured"] - charge["amount_refunded"]
        amount = self._int(params, "amount")
        if amount is None:
            amount = remaining
        if remaining <= 0:
            return self._error_tuple(
                400,
                "invalid_request_error",
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        if amount < 1:
            raise self._refuse(
                400,
                "Refund amount must be at least 1.",
                code="parameter_invalid_integer",
                param="amount",
            )
        self._check_step(amount, charge["currency"], "amount")
        if amount > remaining:
            return self._error_tuple(
                400,
                "invalid_request_error",
                f"Refund amount ({amount} {charge['currency']}) is greater than unrefunded "
                f"amount on charge ({remaining} {charge['currency']})",
                code="amount_too_large",
                param="amount",
            )
        status = self.refund_statuses.pop(0) if self.refund_statuses else "succeeded"
        refund = {
            "id": self._id("re"),
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "currency": charge["currency"],
            "payment_intent": intent["id"],
            "status": status,
            "reason": params.get("reason"),
            "metadata": self._metadata(params),
            "created": self._now(),
            "failure_reason": "unknown" if status == "failed" else None,
            "balance_transaction": self._id("txn"),
            "payment_method": charge["payment_method"],
            "destination_details": {"type": "card", "card": {"type": "refund"}},
            **dict.fromkeys(REFUND_NULL_KEYS),
        }
        self.refunds[refund["id"]] = refund
        self.effects["refunds"] += 1
        if status != "failed":
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
            self.emit("charge.refunded", charge)
        return 200, copy.deepcopy(refund)

    @route("/v1/refunds", methods=["GET"])
    def _ep_list_refunds(self, params: dict[str, str]):
        limit = min(max(self._int(params, "limit") or 10, 1), 100)
        found = [
            r
            for r in reversed(self.refunds.values())  # newest first, as Stripe lists
            if (not params.get("payment_intent") or r["payment_intent"] == params["payment_intent"])
            and (not params.get("charge") or r["charge"] == params["charge"])
        ]
        after = params.get("starting_after")
        if after:
            ids = [r["id"] for r in found]
            found = found[ids.index(after) + 1 :] if after in ids else []
        page = found[:limit]
        return 200, {
            "object": "list",
            "url": "/v1/refunds",
            "has_more": len(found) > limit,
            "data": copy.deepcopy(page),
        }

    @route("/v1/refunds/<refund_id>", methods=["GET"])
    def _ep_get_refund(self, params: dict[str, str], refund_id: str):
        refund = self.refunds.get(refund_id)
        if refund is None:
            raise self._refuse(
                404, f"No such refund: '{refund_id}'", code="resource_missing", param="id"
            )
        return 200, copy.deepcopy(refund)

    @route("/v1/charges/<charge_id>", methods=["GET"])
    def _ep_get_charge(self, params: dict[str, str], charge_id: str):
        charge = self.charges.get(charge_id)
        if charge is None:
            raise self._refuse(
                404, f"No such charge: '{charge_id}'", code="resource_missing", param="id"
            )
        return 200, copy.deepcopy(charge)

    @route("/v1/account", methods=["GET"])
    def _ep_get_account(self, params: dict[str, str]):
        return 200, {
            "id": "acct_hubsandbox",
            "object": "account",
            "charges_enabled": True,
            "business_profile": {"name": "Hub Sandbox"},
            "settings": {"dashboard": {"display_name": "Hub Sandbox"}},
        }

    @route("/v1/balance", methods=["GET"])
    def _ep_get_balance(self, params: dict[str, str]):
        return 200, {
            "object": "balance",
            "livemode": False,
            "available": [{"amount": 0, "currency": "usd"}],
            "pending": [{"amount": 0, "currency": "usd"}],
        }

    def _unexpected_state(self, intent: dict[str, Any], verb: str, allowed: tuple[str, ...]):
        return self._error_tuple(
            400,
            "invalid_request_error",
            f"This PaymentIntent could not be {'canceled' if verb == 'cancel' else verb + 'd'} because it has a "
            f"status of {intent['status']}. Only a PaymentIntent with one of the following statuses may be "
            f"{'canceled' if verb == 'cancel' else verb + 'd'}: {', '.join(allowed)}.",
            code="payment_intent_unexpected_state",
            payment_intent=copy.deepcopy(intent),
        )

    @staticmethod
    def _error_tuple(
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        **extra: Any,
    ):
        error: dict[str, Any] = {"type": type_, "message": message}
        if code:
            error["code"] = code
        if param:
            error["param"] = param
        error.update(extra)
        return status, {"error": error}

    # --- the "dashboard": what happens at Stripe without the hub asking ------------------------------

    @staticmethod
    def amount_of(price: str, currency: str) -> int:
        """The ``amount`` a checkout asks Stripe for a price (a decimal string): in Stripe's
        units, rounded to Stripe's steps (three-decimal currencies) — what a storefront sends."""
        return to_stripe_amount(stripe_rounded(Money.parse(price, currency)))

    def create_intent(
        self,
        amount: int,
        currency: str = "usd",
        *,
        capture_method: str = "manual",
        payment_method: str = "pm_card_visa",
        confirm: bool = True,
        intent_id: str | None = None,
    ) -> dict[str, Any]:
        """A PaymentIntent as a storefront's checkout makes it (authorised when confirmed).

        ``intent_id`` gives it a known id (the id a sales channel's order already
        names, e.g. the Shopify sandbox's ``payment_attribute``); it must be new.
        """
        with self.lock:
            if intent_id is not None and intent_id in self.intents:
                raise ValueError(f"PaymentIntent {intent_id} exists already")
            try:
                self._check_step(amount, currency, "amount")
            except _Refused as refused:
                raise ValueError(
                    json.loads(refused.response.get_data())["error"]["message"]
                ) from None
            intent = self._new_intent(amount, currency.lower(), capture_method, {}, intent_id)
            if confirm:
                self._confirm(intent, payment_method)
            return copy.deepcopy(intent)

    def authenticate(self, intent_id: str) -> dict[str, Any]:
        """The customer completes 3-D Secure: the intent goes on as confirmed."""
        with self.lock:
            intent = self.intents[intent_id]
            if intent["status"] != "requires_action":
                raise ValueError(f"{intent_id} is {intent['status']}")
            self._confirm(intent, intent["payment_method"])
            return copy.deepcopy(intent)

    def capture_now(self, intent_id: str, amount: int | None = None) -> dict[str, Any]:
        """Capture from the dashboard (not through the hub)."""
        with self.lock:
            intent = self.intents[intent_id]
            if intent["status"] != "requires_capture":
                raise ValueError(f"{intent_id} is {intent['status']}")
            self._do_capture(intent, intent["amount_capturable"] if amount is None else amount)
            return copy.deepcopy(intent)

    def refund_now(self, intent_id: str, amount: int | None = None) -> dict[str, Any]:
        """Refund from the dashboard (not through the hub)."""
        params = {
            "payment_intent": intent_id,
            **({"amount": str(amount)} if amount is not None else {}),
        }
        with self.lock:
            try:
                status, body = self._ep_create_refund(params)
            except _Refused as refused:
                status, body = refused.response.status_code, json.loads(refused.response.get_data())
            if status != 200:
                raise ValueError(body["error"]["message"])
            return body

    def settle_refund(self, refund_id: str, status: str) -> dict[str, Any]:
        """A pending refund succeeds or fails later (``charge.refund.updated``)."""
        with self.lock:
            refund = self.refunds[refund_id]
            charge = self.charges[refund["charge"]]
            if refund["status"] != "failed" and status == "failed":
                charge["amount_refunded"] -= refund["amount"]
            refund["status"] = status
            self.emit("charge.refund.updated", refund)
            return copy.deepcopy(refund)

    def dispute(self, intent_id: str, reason: str = "fraudulent") -> dict[str, Any]:
        """The cardholder disputes the payment: ``charge.dispute.created``, then the funds are
        withdrawn (``charge.dispute.funds_withdrawn``), as Stripe does for card disputes."""
        with self.lock:
            intent = self.intents[intent_id]
            charge = self.charges[intent["latest_charge"]]
            charge["disputed"] = True
            dispute = {
                "id": self._id("du"),
                "object": "dispute",
                "amount": charge["amount_captured"],
                "charge": charge["id"],
                "payment_intent": intent_id,
                "currency": charge["currency"],
                "reason": reason,
                "status": "needs_response",
                "created": self._now(),
                "livemode": False,
                "metadata": {},
                "balance_transactions": [],
                "is_charge_refundable": False,
                "evidence": {},
                "evidence_details": {
                    "due_by": self._now() + 7 * 86_400,
                    "has_evidence": False,
                    "past_due": False,
                    "submission_count": 0,
                },
                "payment_method_details": {"type": "card", "card": {"brand": "visa"}},
                "enhanced_eligibility_types": [],
            }
            self.disputes[dispute["id"]] = dispute
            self.emit("charge.dispute.created", dispute)
            self._dispute_funds(dispute, -1, "Chargeback withdrawal")
            self.emit("charge.dispute.funds_withdrawn", dispute)
            return copy.deepcopy(dispute)

    def close_dispute(self, dispute_id: str, *, won: bool) -> dict[str, Any]:
        """The bank decides: won gives the funds back (``charge.dispute.funds_reinstated``); then
        ``charge.dispute.closed`` with status ``won`` or ``lost``."""
        with self.lock:
            dispute = self.disputes[dispute_id]
            if won:
                self._dispute_funds(dispute, 1, "Chargeback reversal")
                dispute["status"] = "won"
                self.emit("charge.dispute.funds_reinstated", dispute)
            else:
                dispute["status"] = "lost"
            self.emit("charge.dispute.closed", dispute)
            return copy.deepcopy(dispute)

    def _dispute_funds(self, dispute: dict[str, Any], sign: int, description: str) -> None:
        dispute["balance_transactions"].append(
            {
                "id": self._id("txn"),
                "object": "balance_transaction",
                "amount": sign * dispute["amount"],
                "currency": dispute["currency"],
                "description": f"{description} for {dispute['charge']}",
                "fee": 1500 if sign < 0 else -1500,
                "net": sign * (dispute["amount"] + 1500),
                "reporting_category": "dispute" if sign < 0 else "dispute_reversal",
                "source": dispute["id"],
                "status": "pending",
                "type": "adjustment",
                "created": self._now(),
            }
        )

    # --- events and webhooks -----------------------------------------------------------------------

    def emit(
        self, event_type: str, obj: dict[str, Any], *, created: int | None = None
    ) -> dict[str, Any]:
        """Record an event about ``obj`` (a snapshot of it now) for delivery."""
        event = {
            "id": self._id("evt"),
            "object": "event",
            "api_version": self.api_version,
            "created": self._now() if created is None else created,
            "data": {"object": copy.deepcopy(obj)},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        with self.lock:
            self.events.append(event)
            self._undelivered.append(event)
        if self.auto_deliver and self.webhook_targets:
            threading.Thread(
                target=self.deliver_pending, daemon=True, name="stripe-sandbox-webhooks"
            ).start()
        return event

    def signed(
        self, event: dict[str, Any], *, timestamp: int | None = None, secret: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers Stripe would POST for ``event`` (pretty-printed JSON, as Stripe sends)."""
        body = json.dumps(event, indent=2).encode()
        header = signature.sign_header(
            body,
            secret or self.webhook_secret,
            timestamp=self._now() if timestamp is None else timestamp,
        )
        return body, {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            signature.HEADER: header,
        }

    def deliver_pending(self) -> list[Any]:
        """Send every undelivered event, oldest first, to every target; return the targets' answers."""
        answers = []
        with self._deliver_lock:
            with self.lock:
                pending, self._undelivered = self._undelivered, []
            for event in pending:
                body, headers = self.signed(event)
                for target in list(self.webhook_targets):
                    if callable(target):
                        answers.append(target(body, headers))
                    else:
                        answers.append(
                            requests.post(
                                target, data=body, headers=headers, timeout=10
                            ).status_code
                        )
        return answers

    # --- for tests -----------------------------------------------------------------------------------

    def posts(self, path_glob: str = "*") -> list[SandboxRequest]:
        """The POST requests received so far whose path matches ``path_glob``."""
        with self.lock:
            return [
                r
                for r in self.requests
                if r.method == "POST" and fnmatch.fnmatchcase(r.path, path_glob)
            ]


def _mask(key: str) -> str:
    return key[:8] + "*" * 4 + key[-4:] if len(key) > 12 else "****"
