"""Orders as the outside world sees them: JSON-ready dicts with decimal strings.

One shape for the REST API, the CLI's ``--json``, the fan-out hook and
outbound webhooks, so an integrator learns it once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import object_session

from hub.core.lifecycle import allowed_events
from hub.core.money import Money
from hub.inventory.backorders import backordered_by_line
from hub.routing import geocode
from hub.store.models import Order, Return


def money(amount: int, currency: str) -> str:
    return str(Money(amount, currency))


def iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def order_summary(order: Order) -> dict[str, Any]:
    cur = order.currency
    return {
        "id": order.id,
        "number": order.number,
        "channel": order.channel.slug if order.channel else None,
        "external_id": order.external_id,
        "status": order.status,
        "financial_status": order.financial_status,
        "fulfillment_status": order.fulfillment_status,
        "hold_reasons": list(order.hold_reasons or []),
        "email": order.email,
        "customer_id": order.customer_id,
        "currency": cur,
        "total": money(order.total, cur),
        "placed_at": iso(order.placed_at),
        "updated_at": iso(order.updated_at),
        "version": order.version,
    }


def order_detail(order: Order) -> dict[str, Any]:
    cur = order.currency
    # What each line still waits for on purchase orders (one query; none for a detached order).
    session = object_session(order)
    waiting = backordered_by_line(session, order.id) if session is not None and order.id else {}
    out = order_summary(order)
    out.update(
        {
            "customer": {
                "email": order.email,
                "name": order.customer_name,
                "phone": order.customer_phone,
            },
            "shipping_address": order.shipping_address,
            "shipping_place": geocode.shipping_place(order),
            "billing_address": order.billing_address,
            "lines": [
                {
                    "id": line.id,
                    "sku": line.sku,
                    "name": line.name,
                    "quantity": line.quantity,
                    "unit_price": money(line.unit_price, cur),
                    "tax": money(line.tax, cur),
                    "discount": money(line.discount, cur),
                    "requires_shipping": line.requires_shipping,
                    "removed_quantity": line.removed_quantity,
                    "backordered_quantity": waiting[line.id].units if line.id in waiting else 0,
                    "backorder_expected_at": iso(waiting[line.id].expected_at)
                    if line.id in waiting
                    else None,
                }
                for line in order.lines
            ],
            "taxes_included": order.taxes_included,
            "subtotal": money(order.subtotal, cur),
            "shipping": money(order.shipping, cur),
            "tax": money(order.tax, cur),
            "discount": money(order.discount, cur),
            "tags": list(order.tags or []),
            "notes": order.notes,
            "shipping_method": order.shipping_method,
            "locale": order.locale,
            "is_test": order.is_test,
            "tracking_token": order.tracking_token,
            "allowed_events": allowed_events(order.status, person=True),
            "payments": [
                {
                    "id": p.id,
                    "reference": p.reference,
                    "channel_id": p.channel_id,
                    "status": p.status,
                    "amount": money(p.amount, cur),
                    "captured": money(p.captured_amount, cur),
                    "refunded": money(p.refunded_amount, cur),
                    "disputed": p.disputed,
                    "failure_reason": p.failure_reason,
                }
                for p in order.payments
            ],
            "shipments": [
                {
                    "id": s.id,
                    "external_id": s.external_id,
                    "status": s.status,
                    "carrier": s.carrier,
                    "service": s.service,
                    "tracking_number": s.tracking_number,
                    "tracking_url": s.tracking_url,
                    "shipped_at": iso(s.shipped_at),
                    "lines": [
                        {"line_id": sl.order_line_id, "quantity": sl.quantity} for sl in s.lines
                    ],
                }
                for s in order.shipments
            ],
            # Oldest first; how each refund is going at the gateway is on the return
            # itself (GET /api/v1/returns/<id>, hub.returns.return_detail).
            "returns": [return_json(r) for r in order.returns],
            "events": [
                {
                    "id": e.id,
                    "name": e.name,
                    "actor": e.actor,
                    "from": e.from_status,
                    "to": e.to_status,
                    "reason": e.reason,
                    "data": e.data,
                    "at": iso(e.created_at),
                }
                for e in order.events
            ],
            "created_at": iso(order.created_at),
        }
    )
    return out


def return_json(ret: Return) -> dict[str, Any]:
    """A return as the order shows it: lines, reason, status, the refund worked out and given."""
    cur = ret.currency
    return {
        "id": ret.id,
        "order_id": ret.order_id,
        "status": ret.status,
        "reason": ret.reason,
        "note": ret.note,
        "currency": cur,
        "refund_amount": money(ret.refund_amount, cur),
        "shipping_refund": money(ret.shipping_refund, cur),
        "refunded_amount": money(ret.refunded_amount, cur),
        "lines": [
            {
                "id": rl.id,
                "line_id": rl.order_line_id,
                "sku": rl.order_line.sku,
                "quantity": rl.quantity,
                "location": rl.location.code if rl.location else None,
                "write_off": rl.write_off,
                "disposition": rl.disposition,
                "exchange_sku": rl.exchange_sku,
            }
            for rl in ret.lines
        ],
        "resolution": ret.resolution,
        "exchange_order_id": ret.exchange_order_id,
        "created_by": ret.created_by,
        "created_at": iso(ret.created_at),
        "approved_at": iso(ret.approved_at),
        "received_at": iso(ret.received_at),
        "refunded_at": iso(ret.refunded_at),
        "rejected_at": iso(ret.rejected_at),
    }
