"""What a sales channel's customers may return themselves (the tracking page), and which
of their requests are approved without a person.

A policy per sales channel in its own table (``return_policies``), beside the
channel like its invoicing policy: the channel's ``config`` belongs to its
connector. A channel without a row takes returns for :data:`DEFAULT_WINDOW_DAYS`
days after shipping, marks nothing final sale and leaves every request to a person.

Final sale is marked per SKU (the SKU is what every order line and stock level
carries, whatever the channel; product tags are not on the canonical order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from hub.core.exceptions import NotFound, ValidationError
from hub.store.models import Channel, ReturnPolicy, utcnow

DEFAULT_WINDOW_DAYS = 30
#: Longest return window accepted, in days.
MAX_WINDOW_DAYS = 730
#: When an exchange's replacement ships: once the goods are back, or at approval.
EXCHANGE_SHIPS = ("on_receipt", "at_once")
MAX_FINAL_SALE_SKUS = 5000


@dataclass(frozen=True)
class Policy:
    """A channel's self-service returns, as the hub applies them."""

    channel_id: int
    window_days: int = DEFAULT_WINDOW_DAYS
    final_sale_skus: frozenset[str] = field(default_factory=frozenset)
    auto_approve: bool = False
    auto_approve_days: int = DEFAULT_WINDOW_DAYS
    #: The largest refund approved alone, a decimal string read in the order's currency
    #: (None: any amount).
    auto_approve_max: str | None = None
    exchange_ships: str = "on_receipt"

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel_id": self.channel_id,
            "window_days": self.window_days,
            "final_sale_skus": sorted(self.final_sale_skus),
            "auto_approve": self.auto_approve,
            "auto_approve_days": self.auto_approve_days,
            "auto_approve_max": self.auto_approve_max,
            "exchange_ships": self.exchange_ships,
        }


def policy_for(session: Session, channel_id: int) -> Policy:
    """The policy of a channel (the defaults when none was set)."""
    row = session.get(ReturnPolicy, channel_id)
    if row is None:
        return Policy(channel_id)
    return Policy(
        channel_id,
        window_days=row.window_days,
        final_sale_skus=frozenset(str(s) for s in row.final_sale_skus or []),
        auto_approve=bool(row.auto_approve),
        auto_approve_days=row.auto_approve_days,
        auto_approve_max=row.auto_approve_max,
        exchange_ships=row.exchange_ships,
    )


def set_policy(
    session: Session,
    channel_id: int,
    *,
    window_days: int,
    final_sale_skus: list[str] | None = None,
    auto_approve: bool = False,
    auto_approve_days: int = DEFAULT_WINDOW_DAYS,
    auto_approve_max: str | None = None,
    exchange_ships: str = "on_receipt",
) -> Policy:
    """Set a channel's returns policy; a wrong value changes nothing.

    :raises NotFound: no such channel.
    :raises ValidationError: a value out of range (every wrong field named).
    """
    channel = session.get(Channel, channel_id)
    if channel is None:
        raise NotFound(f"channel {channel_id} does not exist")
    errors: dict[str, list[str]] = {}
    if not isinstance(window_days, int) or not 0 <= window_days <= MAX_WINDOW_DAYS:
        errors["window_days"] = [f"from 0 to {MAX_WINDOW_DAYS} days"]
    if not isinstance(auto_approve_days, int) or not 0 <= auto_approve_days <= MAX_WINDOW_DAYS:
        errors["auto_approve_days"] = [f"from 0 to {MAX_WINDOW_DAYS} days"]
    if auto_approve_max is not None:
        auto_approve_max = str(auto_approve_max).strip() or None
    if auto_approve_max is not None:
        try:
            amount = Decimal(auto_approve_max)
        except InvalidOperation:
            amount = Decimal(-1)
        if not amount.is_finite() or amount < 0 or len(auto_approve_max) > 32:
            errors["auto_approve_max"] = ["an amount of 0 or more (50.00), or none for any"]
        else:
            auto_approve_max = f"{amount:f}"
    if exchange_ships not in EXCHANGE_SHIPS:
        errors["exchange_ships"] = [f"one of {', '.join(EXCHANGE_SHIPS)}"]
    skus = sorted({str(s).strip() for s in final_sale_skus or [] if str(s).strip()})
    if len(skus) > MAX_FINAL_SALE_SKUS or any(len(s) > 100 for s in skus):
        errors["final_sale_skus"] = [f"at most {MAX_FINAL_SALE_SKUS} SKUs of 100 characters"]
    if errors:
        summary = "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())
        raise ValidationError(
            f"returns policy of channel {channel.slug}: wrong values ({summary})", details=errors
        )
    row = session.get(ReturnPolicy, channel_id)
    if row is None:
        row = ReturnPolicy(channel_id=channel_id)
        session.add(row)
    row.window_days, row.final_sale_skus = window_days, skus
    row.auto_approve, row.auto_approve_days = bool(auto_approve), auto_approve_days
    row.auto_approve_max, row.exchange_ships = auto_approve_max, exchange_ships
    row.updated_at = utcnow()
    session.flush()
    return policy_for(session, channel_id)
