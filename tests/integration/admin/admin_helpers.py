"""Helpers of the admin UI tests: a test connector with secrets, signing in, reading messages."""

from __future__ import annotations

import html
import re

from marshmallow import Schema, fields, validate

from hub import hookimpl
from hub.integration.connectors import (
    Capability,
    SalesConnector,
    WebhookOutcome,
    WebhookReceipt,
)

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct horse battery"
#: Values the tests search every page for: they must never be shown.
SECRET_TOKEN = "sk_live_Zq8vN3tTopSecret9911"
SECRET_SIGNING = "whsec_Unshowable4242xyz"


class VaultConfig(Schema):
    """Every kind of field the form generator knows, in one schema."""

    account = fields.String(
        required=True, metadata={"label": "Account id", "help": "As shown in Vault."}
    )
    api_token = fields.String(required=True, metadata={"label": "API token", "secret": True})
    signing_secret = fields.String(
        load_default="", metadata={"label": "Signing secret", "secret": True}
    )
    mode = fields.String(
        load_default="live",
        validate=validate.OneOf(["live", "test"], labels=["Live", "Test"]),
        metadata={"label": "Mode"},
    )
    retries = fields.Integer(
        load_default=3, validate=validate.Range(min=0, max=10), metadata={"label": "Retries"}
    )
    verbose = fields.Boolean(load_default=False, metadata={"label": "Verbose logging"})
    contact = fields.Email(load_default=None, allow_none=True, metadata={"label": "Contact email"})
    api_base_url = fields.Url(
        load_default="https://vault.example.com", metadata={"label": "API base URL"}
    )
    events = fields.List(
        fields.String(validate=validate.OneOf(["order.created", "order.shipped"])),
        load_default=list,
        metadata={"label": "Events"},
    )


class VaultConnector(SalesConnector):
    name = "vault"
    label = "Vault"
    description = "A test connector with secrets."
    capabilities = frozenset({Capability.PULL_ORDERS, Capability.WEBHOOKS})
    config_schema = VaultConfig
    scheduled_jobs = {"channel.pull": 300}
    fail_with: Exception | None = None

    def check_connection(self) -> str:
        if VaultConnector.fail_with is not None:
            raise VaultConnector.fail_with
        return f"account {self.config['account']} reachable in {self.config['mode']} mode"

    def fetch_orders(self, cursor):
        return iter(())

    def verify_webhook(self, headers, body, query):
        return WebhookReceipt(event_id=headers.get("X-Event-Id", "1"), topic="test")

    def handle_webhook(self, hub, topic, body, headers):
        return WebhookOutcome.ignored(f"topic {topic}")


class VaultPlugin:
    @hookimpl
    def hub_register_connectors(self):
        return [VaultConnector]


def csrf_of(client) -> str:
    with client.session_transaction() as session:
        return session["csrf_token"]


def sign_in(client, email=ADMIN_EMAIL, password=ADMIN_PASSWORD, **extra):
    client.get("/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(client), **extra},
    )


def flashes(page: str) -> list[str]:
    """The messages a page shows at its top, as plain text."""
    found = re.findall(r'class="flash flash-\w+"[^>]*>(.*?)</p>', page, re.S)
    return [html.unescape(re.sub(r"\s+", " ", m).strip()) for m in found]
