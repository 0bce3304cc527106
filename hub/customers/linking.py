"""Every order linked to its customer, in the transaction that stores the order.

:func:`link_orders` is called where orders' rows are written from a channel's
data (:mod:`hub.orders.intake` for one order, :mod:`hub.orders.bulk_intake`
for a page of new ones): it finds each order's customer by the rule of
:mod:`hub.customers.identity` or creates one. A page costs three lookups (the
channel's references, the emails, the phones) and the inserts of what is new,
not a round of queries per order (``make bench`` (b)).

Two workers ingesting two orders of one new customer at once make one
customer: the unique index on the active normalised email
(``uq_customers_active_email``) lets one insert win. The page's inserts run in
one SAVEPOINT; if one collides with another transaction's, the savepoint is
undone and the page is linked again carefully, each insert in its own
savepoint, the loser reading the winner (PostgreSQL makes it wait for the
winner's commit). Channel references are unique per (channel, external id) and
settle the same way. A merged customer leads to the one it was merged into; an
erased one is never matched again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
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
_r = CustomerRef.__table__.c


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
    return link_orders(session, channel_id, [fields])[0]


def link_orders(session: Session, channel_id: int, batch: Sequence[Mapping[str, Any]]) -> list[int]:
    """The customer of each order of a channel (column values), in order; new ones created.

    The rule, first that applies: a channel reference the hub knows, the
    normalised email, the phone in E.164, else a new customer.
    """
    idents = [identity_of_order(fields) for fields in batch]
    try:
        with session.begin_nested():
            return _Linker(session, channel_id, idents, careful=False).link(idents)
    except IntegrityError:
        # Another transaction created one of these customers or references meanwhile.
        return _Linker(session, channel_id, idents, careful=True).link(idents)


def customer_for(session: Session, channel_id: int, ident: Identity) -> int:
    """The customer ``ident`` names (see :func:`link_orders`), one at a time, carefully."""
    return _Linker(session, channel_id, [ident], careful=True).link([ident])[0]


def is_erased(session: Session, customer_id: int | None) -> bool:
    """Whether this customer was erased (its orders take no personal data again)."""
    if customer_id is None:
        return False
    return session.scalar(select(_c.erased_at).where(_c.id == customer_id)) is not None


@dataclass
class _Row:
    id: int
    email: str
    phone: str
    name: str
    merged_into_id: int | None
    erased_at: datetime | None


class _Linker:
    """The customers a batch of orders could match, read at once, and the rule applied to them."""

    def __init__(self, session: Session, channel_id: int, idents: list[Identity], *, careful: bool):
        self.session, self.channel_id, self.careful = session, channel_id, careful
        self.rows: dict[int, _Row] = {}
        self.refs: dict[str, int] = {}
        self.emails: dict[str, list[int]] = {}
        self.phones: dict[str, list[int]] = {}
        externals = sorted({i.external_id for i in idents if i.external_id})
        if externals:
            self.refs = dict(
                session.execute(
                    select(_r.external_id, _r.customer_id).where(
                        _r.channel_id == channel_id, _r.external_id.in_(externals)
                    )
                ).all()
            )
            self._read(_c.id.in_(set(self.refs.values())))
        emails = sorted({i.email for i in idents if i.email})
        if emails:
            self._read(_c.email.in_(emails), _c.erased_at.is_(None))
        phones = sorted({i.phone_e164 for i in idents if i.phone_e164})
        if phones:
            self._read(_c.phone.in_(phones), _c.erased_at.is_(None))
        self._follow_merges()

    def _read(self, *where: Any) -> None:
        for row in self.session.execute(
            select(_c.id, _c.email, _c.phone, _c.name, _c.merged_into_id, _c.erased_at)
            .where(*where)
            .order_by(_c.id)
        ):
            self._keep(_Row(*row))

    def _keep(self, row: _Row) -> None:
        self.rows[row.id] = row
        if row.erased_at is None:
            for index, value in ((self.emails, row.email), (self.phones, row.phone)):
                ids = index.setdefault(value, []) if value else []
                if value and row.id not in ids:
                    ids.append(row.id)

    def _follow_merges(self) -> None:
        for _ in range(MAX_CHAIN):
            missing = {
                r.merged_into_id
                for r in self.rows.values()
                if r.merged_into_id is not None and r.merged_into_id not in self.rows
            }
            if not missing:
                return
            self._read(_c.id.in_(missing))

    def _active(self, customer_id: int | None) -> int | None:
        """The customer ``customer_id`` is now: itself or the one it was merged into; None if erased."""
        for _ in range(MAX_CHAIN):
            row = self.rows.get(customer_id) if customer_id is not None else None
            if row is None or row.erased_at is not None:
                return None
            if row.merged_into_id is None:
                return row.id
            customer_id = row.merged_into_id
        return None

    def _by(self, index: dict[str, list[int]], value: str | None) -> int | None:
        """The customer with this email or phone: an active one first, else a merged one's survivor."""
        ids = index.get(value or "", [])
        ranked = sorted(ids, key=lambda i: (self.rows[i].merged_into_id is not None, i))
        for customer_id in ranked:
            found = self._active(customer_id)
            if found is not None:
                return found
        return None

    def link(self, idents: Iterable[Identity]) -> list[int]:
        out: list[int] = []
        for ident in idents:
            found = self._active(self.refs.get(ident.external_id)) if ident.external_id else None
            if found is None and ident.email:
                found = self._by(self.emails, ident.email)
            if found is None and ident.phone_e164:
                found = self._by(self.phones, ident.phone_e164)
            if found is None:
                found = self._create(ident)
            else:
                self._fill_blanks(found, ident)
            if ident.external_id and self._active(self.refs.get(ident.external_id)) != found:
                found = self._remember_ref(found, ident.external_id)
            out.append(found)
        return out

    # --- writes (careful: each in its own savepoint, a collision read back) ------------------------

    def _guarded(self, write, recover):
        if not self.careful:
            return write()
        try:
            with self.session.begin_nested():
                return write()
        except IntegrityError:
            found = recover()
            if found is None:
                raise
            return found

    def _create(self, ident: Identity) -> int:
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

        def write() -> int:
            new_id = int(
                self.session.execute(insert(Customer).values(values).returning(_c.id)).scalar_one()
            )
            self._keep(_Row(new_id, ident.email, ident.phone, ident.name, None, None))
            return new_id

        def recover() -> int | None:
            # PostgreSQL waited for the other transaction's commit: read its customer.
            self._read(_c.email == ident.email, _c.erased_at.is_(None))
            self._follow_merges()
            return self._by(self.emails, ident.email) if ident.email else None

        return int(self._guarded(write, recover))

    def _remember_ref(self, customer_id: int, external_id: str) -> int:
        """Keep the channel's id of this customer; if another transaction kept it first, theirs wins."""

        def write() -> int:
            known = self.refs.get(external_id)
            if known is None:
                self.session.execute(
                    insert(CustomerRef).values(
                        customer_id=customer_id,
                        channel_id=self.channel_id,
                        external_id=external_id,
                        created_at=utcnow(),
                    )
                )
            else:  # the reference named an erased customer's row: it is this one's now
                self.session.execute(
                    update(CustomerRef)
                    .where(_r.channel_id == self.channel_id, _r.external_id == external_id)
                    .values(customer_id=customer_id)
                )
            self.refs[external_id] = customer_id
            return customer_id

        def recover() -> int | None:
            ref = self.session.scalar(
                select(_r.customer_id).where(
                    _r.channel_id == self.channel_id, _r.external_id == external_id
                )
            )
            if ref is None:
                return None
            self._read(_c.id == ref)
            self._follow_merges()
            self.refs[external_id] = ref
            return self._active(ref)

        return int(self._guarded(write, recover))

    def _fill_blanks(self, customer_id: int, ident: Identity) -> None:
        """Give a known customer the name, phone or email it lacks (never overwrite what it has)."""
        row = self.rows[customer_id]
        values: dict[str, Any] = {}
        if not row.name and ident.name:
            values["name"] = row.name = ident.name
        if not row.phone and ident.phone:
            values["phone"] = row.phone = ident.phone
        if values:
            self.session.execute(
                update(Customer).where(_c.id == customer_id).values(**values, updated_at=utcnow())
            )
        if not row.email and ident.email and not self.emails.get(ident.email):
            try:  # another active customer may have this email meanwhile: then it stays theirs
                with self.session.begin_nested():
                    self.session.execute(
                        update(Customer)
                        .where(_c.id == customer_id)
                        .values(email=ident.email, updated_at=utcnow())
                    )
                row.email = ident.email
                self.emails[ident.email] = [customer_id]
            except IntegrityError:
                pass
