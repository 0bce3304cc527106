"""Connectors: the classes plugins write to reach an outside system.

A *connector* is the code (Shopify, Stripe, …); a *channel* is one configured
instance of it (a given store, a given Stripe account). A connector declares:

- ``name``: unique, lower-case (``"shopify"``);
- ``roles``: what it does for the hub, from :data:`ROLES`;
- ``config_schema``: a marshmallow schema for a channel's configuration. Field
  metadata drives the admin form and the API: ``label``, ``help`` and
  ``secret`` (``True``: write-only, encrypted at rest, never shown back).

Then it implements the operations of its roles. The hub calls them from jobs,
so an operation may raise :class:`hub.core.exceptions.ExternalError` with
``retryable`` set and the job layer will retry or dead-letter accordingly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from marshmallow import Schema
from marshmallow import ValidationError as SchemaError

from .core.exceptions import ConfigError, ValidationError

ROLES: tuple[str, ...] = ("sales", "payment", "shipping", "erp", "notification")


@dataclass(frozen=True)
class ChannelInfo:
    """What a connector knows of its channel: identity and decrypted config."""

    id: int
    slug: str
    name: str
    connector: str
    config: Mapping[str, Any]
    state: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True


@dataclass(frozen=True)
class WebhookReceipt:
    """What a verified inbound webhook is: the provider's id for it and its topic."""

    event_id: str
    topic: str


class Connector:
    """Base class of every connector; subclass it and set the class attributes."""

    name: ClassVar[str]
    roles: ClassVar[tuple[str, ...]]
    config_schema: ClassVar[type[Schema]]
    label: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: Job kinds the scheduler runs for every enabled channel of this connector,
    #: with their default interval in seconds (a channel's schedule overrides it).
    scheduled_jobs: ClassVar[dict[str, int]] = {}

    def __init__(self, channel: ChannelInfo):
        self.channel = channel
        self.config = channel.config

    # --- configuration -------------------------------------------------------

    @classmethod
    def secret_fields(cls) -> frozenset[str]:
        """Names of config fields marked ``secret`` in the schema's metadata."""
        return frozenset(
            name
            for name, f in cls.config_schema().fields.items()
            if f.metadata.get("secret")
        )

    @classmethod
    def validate_config(cls, data: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
        """Return the config as the schema loads it, or raise ValidationError with field errors."""
        try:
            return cls.config_schema().load(dict(data), partial=partial)
        except SchemaError as exc:
            raise ValidationError(
                f"invalid {cls.name} configuration", details=exc.normalized_messages()
            ) from exc

    # --- every connector ------------------------------------------------------

    def check_connection(self) -> str:
        """Reach the outside system with the channel's credentials.

        :return: a short human message on success (e.g. the shop's name).
        :raises ExternalError: or ConfigError, with a message a merchant can act on.
        """
        raise ConfigError(f"the {self.name} connector has no connection check")

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> WebhookReceipt:
        """Verify an inbound webhook on its raw bytes, before anything parses it.

        :raises SignatureError: missing or wrong signature (the request is refused with 401).
        :raises MalformedPayload: verified but unreadable (400).
        :return: the provider's event id (the dedupe key) and topic.
        """
        raise ConfigError(f"the {self.name} connector does not accept webhooks")

    def close(self) -> None:
        """Release what the connector holds (HTTP sessions); called on shutdown."""


def has_role(connector: type[Connector] | Connector, role: str) -> bool:
    return role in connector.roles
