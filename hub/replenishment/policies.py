"""Reorder policies per SKU and location (None: all locations), and what they come to.

A SKU without a stored policy has the default one: computed, 95% service level,
7 days of lead time and of review (:mod:`hub.replenishment.reorder`). A computed policy
takes the lead time of the SKU's preferred supplier when it has one (:func:`with_supplier`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.replenishment import reorder
from hub.store.models import DemandForecast, ReorderPolicy, Supplier, SupplierSku, utcnow


@dataclass(frozen=True)
class Policy:
    """A policy as it applies: stored or the default."""

    kind: str
    min_quantity: int | None
    max_quantity: int | None
    service_level: float
    lead_time_days: int
    review_days: int
    updated_by: str = ""
    updated_at: datetime | None = None
    #: The preferred supplier whose lead time a computed policy takes ("": its own).
    lead_time_from: str = ""

    @property
    def stored(self) -> bool:
        return self.updated_at is not None


DEFAULT = Policy(
    kind="computed",
    min_quantity=None,
    max_quantity=None,
    service_level=reorder.DEFAULT_SERVICE_LEVEL,
    lead_time_days=reorder.DEFAULT_LEAD_TIME_DAYS,
    review_days=reorder.DEFAULT_REVIEW_DAYS,
)


def _where(sku: str, location_id: int | None):
    return (ReorderPolicy.sku == sku) & (
        func.coalesce(ReorderPolicy.location_id, 0) == (location_id or 0)
    )


def policy_of(session: Session, sku: str, location_id: int | None) -> Policy:
    """The policy of ``sku`` at ``location_id`` (None: all locations), or the default."""
    row = session.scalars(select(ReorderPolicy).where(_where(sku, location_id))).one_or_none()
    policy = DEFAULT if row is None else from_row(row)
    return with_supplier(policy, supplier_lead_times(session, [sku]).get(sku))


def supplier_lead_times(session: Session, skus: Iterable[str]) -> dict[str, tuple[str, int]]:
    """The preferred (active) supplier's name and lead time of each SKU that has one."""
    rows = session.execute(
        select(SupplierSku.sku, Supplier.name, Supplier.lead_time_days)
        .join(Supplier, Supplier.id == SupplierSku.supplier_id)
        .where(SupplierSku.sku.in_(set(skus)), SupplierSku.preferred.is_(True))
        .where(Supplier.active.is_(True))
    )
    return {sku: (name, days) for sku, name, days in rows}


def with_supplier(policy: Policy, supplier: tuple[str, int] | None) -> Policy:
    """A computed policy with its preferred supplier's lead time (``supplier``: name, days)."""
    if supplier is None or policy.kind != "computed":
        return policy
    return replace(policy, lead_time_days=supplier[1], lead_time_from=supplier[0])


def from_row(row: ReorderPolicy) -> Policy:
    """A stored policy as it applies."""
    return Policy(
        kind=row.kind,
        min_quantity=row.min_quantity,
        max_quantity=row.max_quantity,
        service_level=row.service_level,
        lead_time_days=row.lead_time_days,
        review_days=row.review_days,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


def set_policy(
    session: Session, sku: str, location_id: int | None, data: dict[str, Any], *, actor: str
) -> Policy:
    """Store the policy (loaded by :class:`hub.replenishment.schemas.ReorderPolicyInSchema`).

    A computed policy keeps no min/max: they follow from the forecast.
    """
    row = session.scalars(select(ReorderPolicy).where(_where(sku, location_id))).one_or_none()
    if row is None:
        row = ReorderPolicy(sku=sku, location_id=location_id)
        session.add(row)
    fixed = data["kind"] == "fixed"
    row.kind = data["kind"]
    row.min_quantity = data["min_quantity"] if fixed else None
    row.max_quantity = data["max_quantity"] if fixed else None
    row.service_level = data["service_level"]
    row.lead_time_days = data["lead_time_days"]
    row.review_days = data["review_days"]
    row.updated_by = actor
    row.updated_at = utcnow()
    session.flush()
    return policy_of(session, sku, location_id)


def apply(policy: Policy, forecast: DemandForecast | None) -> dict[str, Any]:
    """What the policy comes to: its reorder point and order-up-to level, with the
    arithmetic of a computed one (None figures without a forecast to compute from)."""
    out: dict[str, Any] = {
        "kind": policy.kind,
        "stored": policy.stored,
        "min_quantity": policy.min_quantity,
        "max_quantity": policy.max_quantity,
        "service_level": policy.service_level,
        "lead_time_days": policy.lead_time_days,
        "review_days": policy.review_days,
        "updated_by": policy.updated_by or None,
        "updated_at": policy.updated_at,
        "reorder_point": None,
        "order_up_to": None,
        "arithmetic": None,
    }
    if policy.kind == "fixed":
        out["reorder_point"], out["order_up_to"] = policy.min_quantity, policy.max_quantity
        out["lines"] = [
            f"set by {policy.updated_by or 'people'}: reorder at {policy.min_quantity},"
            f" order up to {policy.max_quantity}"
        ]
        return out
    if forecast is None:
        out["lines"] = [
            *_lead_time_source(policy),
            "no forecast yet: it is computed daily from the SKU's sales",
        ]
        return out
    figures = reorder.compute(
        forecast.daily,
        sigma=forecast.sigma,
        lead_time_days=policy.lead_time_days,
        service_level=policy.service_level,
        review_days=policy.review_days,
    )
    out["reorder_point"], out["order_up_to"] = figures.reorder_point, figures.order_up_to
    out["arithmetic"] = figures.as_dict()
    out["lines"] = [*_lead_time_source(policy), *figures.lines()]
    return out


def _lead_time_source(policy: Policy) -> list[str]:
    if not policy.lead_time_from:
        return []
    return [
        f"lead time {policy.lead_time_days} days: {policy.lead_time_from}'s, the preferred supplier"
    ]
