"""Replacement orders: goods sent again or in exchange, at zero price, as an order of their own.

A case's reship (:mod:`hub.cases.actions`) and a return's exchange
(:mod:`hub.returns.exchanges`) both send goods the customer does not pay for
again. Each becomes an order of the hub's manual channel
(:func:`hub.orders.manual.create_manual_order`), so it is checked, confirmed,
reserved, routed, shipped and audited like any other; its ``external_id`` names
what it replaces, so asking twice creates it once.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from hub.core.order import Address, Customer, Line, OrderData
from hub.orders import manual
from hub.store.models import Channel, Order


def create_replacement(
    session: Session,
    original: Order,
    channel: Channel,
    lines: list[Line],
    *,
    external_id: str,
    suffix: str,
    tags: list[str],
    notes: str,
    actor: str,
) -> Order:
    """A zero-price order of ``lines`` for the customer of ``original``, sent to the same address.

    :param channel: the hub's manual channel.
    :param suffix: added to the original's number (``#1001`` + ``-X5`` → ``1001-X5``).
    """
    data = OrderData(
        external_id=external_id,
        number=f"{original.label.lstrip('#')}{suffix}",
        currency=original.currency,
        lines=[
            Line(
                sku=x.sku,
                name=x.name,
                quantity=x.quantity,
                unit_price=0,
                product_id=x.product_id,
            )
            for x in lines
        ],
        customer=Customer(
            email=original.email,
            name=original.customer_name,
            phone=original.customer_phone,
            external_id=original.customer_external_id,
        ),
        shipping_address=Address.from_dict(original.shipping_address),
        billing_address=Address.from_dict(original.billing_address),
        total=0,
        # Nothing to pay: it confirms on stock and checks alone.
        channel_financial_status="paid",
        tags=tags,
        notes=notes,
        is_test=original.is_test,
    )
    return manual.create_manual_order(session, channel, data, actor=actor).order
