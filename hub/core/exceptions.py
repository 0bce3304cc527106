"""Every error the hub raises on purpose, in one small hierarchy.

Domain errors say what is wrong in the domain's words. The job layer reads the
``retryable`` flag: an error that retrying cannot fix sends its job to ``dead``
at once instead of burning attempts.
"""

from __future__ import annotations


class HubError(Exception):
    """Base class: an error the hub raised on purpose, with a clear message."""

    #: HTTP-ish code the web layer maps this error to.
    code = "error"
    #: May running the same job again succeed?
    retryable = False

    def __init__(self, message: str, *, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ValidationError(HubError):
    """Input that cannot be accepted as it is (a field missing, a bad value)."""

    code = "validation_error"


class NotFound(HubError):
    """The thing asked for does not exist."""

    code = "not_found"


class InvalidTransition(HubError):
    """An event the order's current status does not allow."""

    code = "invalid_transition"

    def __init__(self, order: str, status: str, event: str, allowed: list[str]):
        super().__init__(
            f"order {order} is {status}: cannot {event}"
            f" (allowed: {', '.join(allowed) if allowed else 'none'})",
            details={"order": order, "status": status, "event": event, "allowed": allowed},
        )
        self.order = order
        self.status = status
        self.event = event
        self.allowed = allowed


class ConcurrencyError(HubError):
    """Someone else changed the record first: a lost update was prevented."""

    code = "conflict"
    retryable = True


class Conflict(HubError):
    """The request clashes with a record's current state (in use, disabled, already there)."""

    code = "conflict"


class ConfigError(HubError):
    """The hub or a channel is configured in a way that cannot work."""

    code = "config_error"


class SignatureError(HubError):
    """An inbound webhook whose signature is missing or does not match."""

    code = "bad_signature"


class MalformedPayload(HubError):
    """An inbound payload that cannot be read (bad JSON, missing id)."""

    code = "malformed"


class ExternalError(HubError):
    """An outside service refused or failed a request.

    ``retryable`` says whether the same request later may succeed (timeouts,
    429, 5xx) or not (a 4xx that will be refused again). ``retry_after`` is
    the service's own hint, in seconds, when it gave one.
    """

    code = "external_error"

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        status: int | None = None,
        details: dict | None = None,
    ):
        super().__init__(message, details=details)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


class RetryLater(HubError):
    """Not an error in itself: the work cannot be done yet; run the job again later."""

    code = "retry_later"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PaymentDeclined(ExternalError):
    """The gateway refused the payment for good (a card error): the order needs a person."""

    code = "payment_declined"

    def __init__(
        self,
        message: str,
        *,
        decline_code: str = "",
        status: int | None = 402,
        details: dict | None = None,
    ):
        super().__init__(message, retryable=False, status=status, details=details)
        self.decline_code = decline_code
