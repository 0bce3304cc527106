"""When a sales channel's orders are invoiced, and on what terms.

A policy per sales channel, in its own table (``invoice_policies``) rather than
in the channel's ``config``: that is the connector's, validated by the
connector's own schema, and invoicing is the hub's business whatever the
connector. A channel without a row is invoiced ``never`` (until someone says
so: the hub does not issue legal documents by surprise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.exceptions import NotFound, ValidationError
from hub.core.invoicing import IssueOn, terms_for
from hub.store.models import Channel, Customer, InvoicePolicy, Order, utcnow

#: Longest payment terms accepted, in days.
MAX_TERMS_DAYS = 365


@dataclass(frozen=True)
class Policy:
    """A channel's invoicing policy, as the hub applies it."""

    channel_id: int
    issue_on: IssueOn = IssueOn.NEVER
    payment_terms_days: int = 0
    terms_by_tag: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel_id": self.channel_id,
            "issue_on": str(self.issue_on),
            "payment_terms_days": self.payment_terms_days,
            "terms_by_tag": dict(self.terms_by_tag),
        }


def policy_for(session: Session, channel_id: int) -> Policy:
    """The policy of a channel (``never`` when none was set)."""
    row = session.get(InvoicePolicy, channel_id)
    if row is None:
        return Policy(channel_id)
    return Policy(
        channel_id,
        IssueOn(row.issue_on),
        row.payment_terms_days,
        {str(k): int(v) for k, v in (row.terms_by_tag or {}).items()},
    )


def policies(session: Session) -> dict[int, Policy]:
    """Every policy set, by channel id."""
    rows = session.scalars(select(InvoicePolicy.channel_id)).all()
    return {channel_id: policy_for(session, channel_id) for channel_id in rows}


def set_policy(
    session: Session,
    channel_id: int,
    *,
    issue_on: str,
    payment_terms_days: int = 0,
    terms_by_tag: dict[str, int] | None = None,
) -> Policy:
    """Set a sales channel's policy; a wrong value changes nothing.

    :raises NotFound: no such channel.
    :raises ValidationError: not a sales channel's, or a value out of range.
    """
    channel = session.get(Channel, channel_id)
    if channel is None:
        raise NotFound(f"channel {channel_id} does not exist")
    errors: dict[str, list[str]] = {}
    if issue_on not in set(IssueOn):
        errors["issue_on"] = [f"one of {', '.join(IssueOn)}"]
    if not 0 <= payment_terms_days <= MAX_TERMS_DAYS:
        errors["payment_terms_days"] = [f"from 0 to {MAX_TERMS_DAYS} days"]
    tags = {str(k).strip().lower(): v for k, v in (terms_by_tag or {}).items()}
    if any(
        not tag or not isinstance(days, int) or not 0 <= days <= MAX_TERMS_DAYS
        for tag, days in tags.items()
    ):
        errors["terms_by_tag"] = [f"a tag -> days from 0 to {MAX_TERMS_DAYS}"]
    if errors:
        raise ValidationError(
            f"invoice policy of channel {channel.slug}: wrong values", details=errors
        )
    row = session.get(InvoicePolicy, channel_id)
    if row is None:
        row = InvoicePolicy(channel_id=channel_id)
        session.add(row)
    row.issue_on, row.payment_terms_days, row.terms_by_tag = issue_on, payment_terms_days, tags
    row.updated_at = utcnow()
    session.flush()
    return policy_for(session, channel_id)


def buyer_tags(order: Order, customer: Customer | None) -> list[str]:
    """The tags that choose the terms: the customer's when customers keep tags, else the order's."""
    tags = getattr(customer, "tags", None) if customer is not None else None
    return [str(t) for t in (tags if tags else order.tags or [])]


def terms_days(policy: Policy, order: Order, customer: Customer | None) -> int:
    """The payment terms of an invoice of ``order`` issued on account, in days."""
    return terms_for(buyer_tags(order, customer), policy.payment_terms_days, policy.terms_by_tag)
