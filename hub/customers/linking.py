"""Every order linked to its customer, in the transaction that stores the order.

:func:`link_order` is called where an order's row is written from a channel's
data (:mod:`hub.orders.intake` for one order, :mod:`hub.orders.bulk_intake`
for a page): it finds the customer by the rule of :mod:`hub.customers.identity`
or creates one.

Two workers ingesting two orders of one new customer at once make one
customer: the unique index on the active normalised email
(``uq_customers_active_email``) lets one insert win; the other's insert fails
inside its SAVEPOINT and it reads the winner. Channel references are unique per
(channel, external id) and settle the same way. A merged customer leads to the
one it was merged into; an erased one is never matched again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.customers.identity import Identity, identity_of, region_of
from hub.store.models import Customer, CustomerRef, utcnow

#: How many merges deep a chain is followed (a merge into a merged customer is refused,
#: so chains stay short; this only guards against a loop written by hand).
MAX_CHAIN = 20

_c = Customer.__table__.c


def identity_of_order(fields: Mapping[str, Any]) -> Identity:
    """The buyer of an order from its column values (``email``, ``customer_phone`` ...)."""
    return identity_of(
        email=fields.get("email"),
        phone=fields.get("customer_phone"),
        name=fields.get("customer_name"),
        external_id=fields.get("customer_external_id"),
        region=region_of(fields.get("shipping_address"), fields.get("billing_address")),
    )


def link_order(session: Session, channel_id: int, fields: Mapping[str, Any]) -> int:
    """The id of the customer an order with these column values belongs to (created if new)."""
    return customer_for(session, channel_id, identity_of_order(fields))


def customer_for(session: Session, channel_id: int, ident: Identity) -> int:
    """The customer ``ident`` names: a known channel reference, else email, else phone, else new."""
    if ident.external_id:
        found = _by_ref(session, channel_id, ident.external_id)
        if found is not None:
            _fill_blanks(session, found, ident)
            return found
    found = None
    if ident.email:
        found = _by_column(session, Customer.email, ident.email)
    if found is None and ident.phone_e164:
        found = _by_column(session, Customer.phone, ident.phone_e164)
    if found is None:
        found = _create(session, ident)
    else:
        _fill_blanks(session, found, ident)
    if ident.external_id:
        found = _remember_ref(session, found, channel_id, ident.external_id)
    return found


def is_erased(session: Session, customer_id: int | None) -> bool:
    """Whether this customer was erased (its orders take no personal data again)."""
    if customer_id is None:
        return False
    return session.scalar(select(_c.erased_at).where(_c.id == customer_id)) is not None


def active_customer(session: Session, customer_id: int) -> int | None:
    """The customer ``customer_id`` is now: itself, or the one it was merged into; None if erased."""
    current = customer_id
    for _ in range(MAX_CHAIN):
        row = session.execute(
            select(_c.merged_into_id, _c.erased_at).where(_c.id == current)
        ).one_or_none()
        if row is None or row.erased_at is not None:
            return None
        if row.merged_into_id is None:
            return current
        current = row.merged_into_id
    return None


def _by_ref(session: Session, channel_id: int, external_id: str) -> int | None:
    customer_id = session.scalar(
        select(CustomerRef.customer_id).where(
            CustomerRef.channel_id == channel_id, CustomerRef.external_id == external_id
        )
    )
    return None if customer_id is None else active_customer(session, customer_id)


def _by_column(session: Session, column: Any, value: str) -> int | None:
    """The active customer with this email or phone; a merged one leads to its survivor."""
    customer_id = session.scalar(
        select(_c.id)
        .where(column == value, _c.erased_at.is_(None))
        .order_by(_c.merged_into_id.is_not(None), _c.id)
        .limit(1)
    )
    return None if customer_id is None else active_customer(session, customer_id)


def _create(session: Session, ident: Identity) -> int:
    now = utcnow()
    values = dict(
        email=ident.email,
        phone=ident.phone,
        name=ident.name,
        tags=[],
        note="",
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            return int(
                session.execute(insert(Customer).values(values).returning(_c.id)).scalar_one()
            )
    except IntegrityError:
        # Another transaction created this email's customer meanwhile (PostgreSQL waited
        # for it to commit): it is ours too.
        found = _by_column(session, Customer.email, ident.email) if ident.email else None
        if found is None:
            raise
        return found


def _remember_ref(session: Session, customer_id: int, channel_id: int, external_id: str) -> int:
    """Keep the channel's id of this customer; if another transaction kept it first, theirs wins."""
    try:
        with session.begin_nested():
            session.execute(
                insert(CustomerRef).values(
                    customer_id=customer_id,
                    channel_id=channel_id,
                    external_id=external_id,
                    created_at=utcnow(),
                )
            )
    except IntegrityError:
        found = _by_ref(session, channel_id, external_id)
        if found is None:
            raise
        return found
    return customer_id


def _fill_blanks(session: Session, customer_id: int, ident: Identity) -> None:
    """Give a known customer the name, phone or email it lacks (never overwrite what it has)."""
    row = session.execute(select(_c.email, _c.phone, _c.name).where(_c.id == customer_id)).one()
    values: dict[str, Any] = {}
    if not row.name and ident.name:
        values["name"] = ident.name
    if not row.phone and ident.phone:
        values["phone"] = ident.phone
    if values:
        session.execute(
            update(Customer).where(_c.id == customer_id).values(**values, updated_at=utcnow())
        )
    if not row.email and ident.email:
        try:  # another active customer may have this email: then it stays theirs
            with session.begin_nested():
                session.execute(
                    update(Customer)
                    .where(_c.id == customer_id)
                    .values(email=ident.email, updated_at=utcnow())
                )
        except IntegrityError:
            pass
