"""Each sales channel's satisfaction check: on or off, when, and where reviews are written.

A review link is a URL template with placeholders the order fills in:
``{order_number}``, ``{sku}``, ``{product_name}``, ``{product_url}`` (the
channel's product page template filled for the SKU) and ``{email}``. A template
with a per-product placeholder gives one link per product of the order (a shop's
product page, Judge.me); one without gives one link for the order (Google,
Trustpilot). Values are percent-encoded, except ``{product_url}`` at the very
start of a template (it *is* the link then: ``{product_url}#reviews``).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from marshmallow import Schema, fields, validate
from marshmallow import ValidationError as SchemaError
from sqlalchemy.orm import Session

from hub.core.exceptions import NotFound, ValidationError
from hub.store.models import AftercarePolicy, Channel, utcnow

PLACEHOLDERS = ("order_number", "sku", "product_name", "product_url", "email")
#: The placeholders that make a link per product.
PER_PRODUCT = frozenset({"sku", "product_name", "product_url"})
#: The product page template knows only the line.
PRODUCT_PLACEHOLDERS = ("sku", "product_name")
DEFAULT_DAYS = 7
MAX_DAYS = 90


def placeholders_of(template: str) -> set[str]:
    """The names a template uses; :class:`ValueError` on a malformed one (``{sku``)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _template_check(allowed: tuple[str, ...]):
    def check(value: str) -> None:
        if not value:
            return
        if not value.startswith(("https://", "http://", "{product_url}")):
            raise SchemaError("must be a web address starting with https://")
        try:
            names = placeholders_of(value)
        except ValueError as exc:
            raise SchemaError(f"is not a valid template: {exc}") from None
        unknown = sorted(n for n in names if n not in allowed)
        if unknown:
            raise SchemaError(
                f"unknown placeholder {{{unknown[0]}}}; use "
                + ", ".join(f"{{{a}}}" for a in allowed)
            )

    return check


class AftercarePolicySchema(Schema):
    """What a person sets for a channel's satisfaction check."""

    enabled = fields.Boolean(
        required=True,
        metadata={
            "label": "Ask whether all arrived well",
            "help": "One email per delivered order, some days after delivery.",
        },
    )
    check_days = fields.Integer(
        load_default=DEFAULT_DAYS,
        validate=validate.Range(1, MAX_DAYS),
        metadata={"label": "Days after delivery", "help": f"1 to {MAX_DAYS}."},
    )
    product_url_template = fields.String(
        load_default="",
        validate=[validate.Length(max=2000), _template_check(PRODUCT_PLACEHOLDERS)],
        metadata={
            "label": "Product page",
            "help": "Your shop's page of a product: https://shop.example/products/{sku}",
        },
    )
    review_url_template = fields.String(
        load_default="",
        validate=[validate.Length(max=2000), _template_check(PLACEHOLDERS)],
        metadata={
            "label": "Review link",
            "help": "Where a happy customer writes a review: {product_url}#reviews, or "
            "https://www.trustpilot.com/evaluate/your-shop.com. Placeholders: "
            + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            + ". Empty: no review request.",
        },
    )


@dataclass(frozen=True)
class Policy:
    channel_id: int
    enabled: bool = False
    check_days: int = DEFAULT_DAYS
    product_url_template: str = ""
    review_url_template: str = ""
    updated_by: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel_id": self.channel_id,
            "enabled": self.enabled,
            "check_days": self.check_days,
            "product_url_template": self.product_url_template,
            "review_url_template": self.review_url_template,
        }


def read(session: Session, channel_id: int) -> Policy:
    """The channel's policy; off until a person turns it on."""
    row = session.get(AftercarePolicy, channel_id)
    if row is None:
        return Policy(channel_id)
    return Policy(
        channel_id,
        row.enabled,
        row.check_days,
        row.product_url_template,
        row.review_url_template,
        row.updated_by,
    )


def save(session: Session, channel_id: int, values: dict[str, Any], *, actor: str) -> Policy:
    """Check ``values`` (:class:`AftercarePolicySchema`) and store them; nothing is stored when wrong."""
    if session.get(Channel, channel_id) is None:
        raise NotFound(f"channel {channel_id} does not exist")
    try:
        loaded = AftercarePolicySchema().load(values)
    except SchemaError as exc:
        fields_ = AftercarePolicySchema().fields
        said = "; ".join(
            f"{fields_[name].metadata.get('label', name) if name in fields_ else name}: "
            + " ".join(map(str, problems if isinstance(problems, list) else [problems]))
            for name, problems in exc.messages_dict.items()
        )
        raise ValidationError(
            f"the satisfaction check settings are not valid ({said})", details=exc.messages_dict
        ) from None
    if (
        "product_url" in placeholders_of(loaded["review_url_template"])
        and not loaded["product_url_template"]
    ):
        raise ValidationError(
            "the review link uses {product_url}: set the product page too",
            details={"product_url_template": ["is required when the review link uses it"]},
        )
    row = session.get(AftercarePolicy, channel_id)
    if row is None:
        row = AftercarePolicy(channel_id=channel_id)
        session.add(row)
    row.enabled = loaded["enabled"]
    row.check_days = loaded["check_days"]
    row.product_url_template = loaded["product_url_template"]
    row.review_url_template = loaded["review_url_template"]
    row.updated_by = actor
    row.updated_at = utcnow()
    session.flush()
    return read(session, channel_id)


@dataclass(frozen=True)
class ReviewLink:
    #: What the link is for: a product's name, or "" for the whole order.
    product: str
    url: str


def _fill(template: str, values: dict[str, str]) -> str:
    raw = "product_url" if template.startswith("{product_url}") else None
    encoded = {k: (v if k == raw else quote(v, safe="")) for k, v in values.items()}
    # A {product_url} inside the link (Trustpilot's ?url=) is encoded; at the start it is the link.
    if raw:
        return values[raw] + template[len("{product_url}") :].format(**encoded)
    return template.format(**encoded)


def review_links(policy: Policy, order: dict[str, Any]) -> list[ReviewLink]:
    """The review links of ``order`` (as the API shows it): one per product, or one for the order."""
    template = policy.review_url_template
    if not template:
        return []
    number = str(order.get("number") or order.get("id") or "")
    email = ((order.get("customer") or {}).get("email") or order.get("email") or "").strip()
    if not (placeholders_of(template) & PER_PRODUCT):
        return [ReviewLink("", _fill(template, {"order_number": number, "email": email}))]
    links: list[ReviewLink] = []
    seen: set[str] = set()
    for line in order.get("lines") or []:
        sku = str(line.get("sku") or "")
        if not sku or sku in seen or not line.get("requires_shipping", True):
            continue
        seen.add(sku)
        name = str(line.get("name") or sku)
        product_url = (
            policy.product_url_template.format(
                sku=quote(sku, safe=""), product_name=quote(name, safe="")
            )
            if policy.product_url_template
            else ""
        )
        values = {
            "order_number": number,
            "email": email,
            "sku": sku,
            "product_name": name,
            "product_url": product_url,
        }
        links.append(ReviewLink(name, _fill(template, values)))
    return links
