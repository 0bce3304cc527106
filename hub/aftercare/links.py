"""The links a satisfaction check and a review request carry: signed, for one order, expiring.

A link's token is signed with a key derived from the hub's secret key
(:meth:`hub.store.secrets.SecretBox.derive`) by :mod:`itsdangerous`: it names the
order and what it is for (answering, unsubscribing the order's customer, or
choosing what happens to a delayed order's missing items), so a token for one
order opens nothing of another, and one for "yes / no" is no unsubscribe link. Tokens are signed, not encrypted: they carry the order's id
and nothing personal. Tokens expire (:data:`ANSWER_DAYS`, :data:`UNSUBSCRIBE_DAYS`, :data:`CHOICE_DAYS`).
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from hub.core.exceptions import NotFound

#: A satisfaction check can be answered this long after it was sent.
ANSWER_DAYS = 30
#: An unsubscribe link works this long (a customer may find an old email).
UNSUBSCRIBE_DAYS = 365
#: A delay notice's choice (wait, the alternative, cancel the missing items) is open this long.
CHOICE_DAYS = 14

_ANSWER = "aftercare-answer"
_UNSUBSCRIBE = "aftercare-unsubscribe"
_CHOICE = "delay-choice"


class LinkExpired(NotFound):
    """The link was genuine but is too old."""


@dataclass(frozen=True)
class Signer:
    """Signs and reads the aftercare links with ``key`` (``hub.secrets.derive("aftercare-links")``)."""

    key: bytes

    def _serializer(self, salt: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.key, salt=salt)

    def answer_token(self, order_id: int) -> str:
        return self._serializer(_ANSWER).dumps({"o": int(order_id)})

    def unsubscribe_token(self, order_id: int) -> str:
        return self._serializer(_UNSUBSCRIBE).dumps({"o": int(order_id)})

    def choice_token(self, order_id: int) -> str:
        return self._serializer(_CHOICE).dumps({"o": int(order_id)})

    def order_of(self, token: str) -> int:
        """The order an answer token is for; :class:`NotFound` when it is not one of ours."""
        return self._order(_ANSWER, token, ANSWER_DAYS)

    def order_to_unsubscribe(self, token: str) -> int:
        """The order whose customer an unsubscribe token is for."""
        return self._order(_UNSUBSCRIBE, token, UNSUBSCRIBE_DAYS)

    def order_to_choose(self, token: str) -> int:
        """The order a delay notice's choice link is for (:data:`CHOICE_DAYS`)."""
        return self._order(_CHOICE, token, CHOICE_DAYS)

    def _order(self, salt: str, token: str, days: int) -> int:
        data = self._load(salt, token, days)
        if not isinstance(data, dict) or not isinstance(data.get("o"), int):
            raise NotFound("this link is not valid")
        return data["o"]

    def _load(self, salt: str, token: str, days: int) -> object:
        try:
            return self._serializer(salt).loads(token, max_age=days * 86400)
        except SignatureExpired:
            raise LinkExpired("this link has expired") from None
        except BadSignature:
            raise NotFound("this link is not valid") from None


@dataclass(frozen=True)
class Links:
    """Where the links point: the hub's public address and the signer."""

    public_url: str
    signer: Signer

    def _url(self, path: str) -> str:
        return f"{self.public_url.rstrip('/')}{path}"

    def answer(self, order_id: int, answer: str) -> str:
        return self._url(f"/aftercare/{self.signer.answer_token(order_id)}/{answer}")

    def unsubscribe(self, order_id: int) -> str:
        return self._url(f"/aftercare/unsubscribe/{self.signer.unsubscribe_token(order_id)}")

    def choice(self, order_id: int) -> str:
        """The delay notice's link to the tracking page where the customer chooses."""
        return self._url(f"/track/choice/{self.signer.choice_token(order_id)}")
