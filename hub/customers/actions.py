"""What people do to customers: tags and note, merge, and split (a merge undone). Each is audited.

A merge moves customer B's orders and channel references to customer A and
keeps B's row (``merged_into_id`` = A); the :class:`~hub.store.models.CustomerMerge`
row records exactly which orders and references moved, who merged and when.
A split (:func:`undo_merge`) moves exactly those back, if they are still A's:
orders that arrived after the merge stay with A.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.core.exceptions import Conflict, NotFound, ValidationError
from hub.store.models import Customer, CustomerEvent, CustomerMerge, CustomerRef, Order, utcnow

#: The most tags one customer carries, and the longest tag and note.
MAX_TAGS, MAX_TAG, MAX_NOTE = 50, 50, 5000


# An order whose customer moves changed: ``updated_since`` lists find it, and a writer
# holding the order as it was fails on its version instead of writing over the move.
def _order_changed() -> dict[str, Any]:
    return {"updated_at": utcnow(), "version": Order.version + 1}


def record(
    session: Session, customer_id: int, name: str, *, actor: str, data: dict[str, Any] | None = None
) -> CustomerEvent:
    """Write one entry of a customer's audit trail."""
    event = CustomerEvent(customer_id=customer_id, name=name, actor=actor, data=data or {})
    session.add(event)
    return event


def get_customer(session: Session, customer_id: int, *, lock: bool = False) -> Customer:
    """The customer, or :class:`NotFound`."""
    statement = select(Customer).where(Customer.id == customer_id)
    if lock:
        statement = statement.with_for_update()
    customer = session.scalars(statement).one_or_none()
    if customer is None:
        raise NotFound(f"customer {customer_id} does not exist")
    return customer


def clean_tags(tags: Iterable[str]) -> list[str]:
    """Tags trimmed, without blanks or repeats (first spelling kept), within the limits."""
    out: list[str] = []
    for tag in tags:
        text = " ".join(str(tag).split())
        if not text:
            continue
        if len(text) > MAX_TAG:
            raise ValidationError(
                f"tag {text[:20]!r}... is longer than {MAX_TAG} characters",
                details={"tags": [f"at most {MAX_TAG} characters each"]},
            )
        if text.lower() not in {t.lower() for t in out}:
            out.append(text)
    if len(out) > MAX_TAGS:
        raise ValidationError(
            f"a customer has at most {MAX_TAGS} tags", details={"tags": [f"at most {MAX_TAGS}"]}
        )
    return out


def update_customer(
    session: Session,
    customer_id: int,
    *,
    actor: str,
    tags: Iterable[str] | None = None,
    note: str | None = None,
) -> Customer:
    """Set a customer's tags and/or note (None: unchanged); the change is on its trail."""
    customer = get_customer(session, customer_id, lock=True)
    _refuse_erased(customer, "edit")
    changes: dict[str, Any] = {}
    if tags is not None:
        cleaned = clean_tags(tags)
        if cleaned != list(customer.tags or []):
            changes["tags"] = {"from": list(customer.tags or []), "to": cleaned}
            customer.tags = cleaned
    if note is not None:
        if len(note) > MAX_NOTE:
            raise ValidationError(
                f"the note is longer than {MAX_NOTE} characters",
                details={"note": [f"at most {MAX_NOTE} characters"]},
            )
        if note != customer.note:
            changes["note"] = True  # the note's text stays out of the trail (erasure blanks it)
            customer.note = note
    if changes:
        record(session, customer.id, "customer.updated", actor=actor, data=changes)
    return customer


def merge(session: Session, into_id: int, from_id: int, *, actor: str) -> CustomerMerge:
    """Merge customer ``from_id`` into ``into_id``: its orders and references move, it stays as a pointer.

    Refused (:class:`Conflict`): merging a customer into itself, a customer
    already merged, an erased one.
    """
    if into_id == from_id:
        raise ValidationError(
            "a customer cannot be merged into itself", details={"from": ["is this customer"]}
        )
    # Locked in id order, so two merges of the same pair cannot deadlock.
    locked = {
        c.id: c for c in (get_customer(session, i, lock=True) for i in sorted((into_id, from_id)))
    }
    into, source = locked[into_id], locked[from_id]
    for customer in (into, source):
        _refuse_erased(customer, "merge")
        if customer.merged_into_id is not None:
            raise Conflict(
                f"customer {customer.id} was merged into customer {customer.merged_into_id} already",
                details={"customer": customer.id, "merged_into": customer.merged_into_id},
            )
    order_ids = list(
        session.scalars(select(Order.id).where(Order.customer_id == from_id).order_by(Order.id))
    )
    ref_ids = list(
        session.scalars(
            select(CustomerRef.id)
            .where(CustomerRef.customer_id == from_id)
            .order_by(CustomerRef.id)
        )
    )
    if order_ids:
        session.execute(
            update(Order)
            .where(Order.id.in_(order_ids))
            .values(customer_id=into_id, **_order_changed())
            .execution_options(synchronize_session=False)
        )
    if ref_ids:
        session.execute(
            update(CustomerRef)
            .where(CustomerRef.id.in_(ref_ids))
            .values(customer_id=into_id)
            .execution_options(synchronize_session=False)
        )
    source.merged_into_id = into_id
    row = CustomerMerge(
        into_id=into_id, from_id=from_id, order_ids=order_ids, ref_ids=ref_ids, actor=actor
    )
    session.add(row)
    session.flush()
    moved = {"merge_id": row.id, "orders": len(order_ids), "refs": len(ref_ids)}
    record(session, into_id, "customer.merged", actor=actor, data={"from": from_id, **moved})
    record(session, from_id, "customer.merged_into", actor=actor, data={"into": into_id, **moved})
    return row


def undo_merge(session: Session, merge_id: int, *, actor: str) -> CustomerMerge:
    """Split a merge: its customer is on its own again with exactly the orders and references that moved.

    Only those still with the customer merged into move back (what a later
    merge or a person moved elsewhere stays where it is). Refused
    (:class:`Conflict`): a merge undone already; a merge into a customer
    merged or erased since (split that first); a merged customer erased since;
    a merged customer whose email another customer has taken meanwhile.
    """
    row = session.scalars(
        select(CustomerMerge).where(CustomerMerge.id == merge_id).with_for_update()
    ).one_or_none()
    if row is None:
        raise NotFound(f"customer merge {merge_id} does not exist")
    if row.undone_at is not None:
        raise Conflict(
            f"customer merge {merge_id} was undone already",
            details={"undone_at": row.undone_at.isoformat(), "undone_by": row.undone_by},
        )
    locked = {
        c.id: c
        for c in (get_customer(session, i, lock=True) for i in sorted((row.into_id, row.from_id)))
    }
    into, source = locked[row.into_id], locked[row.from_id]
    if into.merged_into_id is not None:
        raise Conflict(
            f"customer {into.id} was merged into customer {into.merged_into_id} since: "
            "split that merge first",
            details={"merged_into": into.merged_into_id},
        )
    for customer in (into, source):
        _refuse_erased(customer, "split")
    moved_orders = _move_back(session, Order, row.order_ids, row.into_id, row.from_id)
    moved_refs = _move_back(session, CustomerRef, row.ref_ids, row.into_id, row.from_id)
    source.merged_into_id = None
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(
            f"customer {source.id}'s email {source.email} belongs to another customer now",
            details={"email": source.email},
        ) from None
    row.undone_at = utcnow()
    row.undone_by = actor
    split = {"merge_id": row.id, "orders": moved_orders, "refs": moved_refs}
    record(session, row.into_id, "customer.split", actor=actor, data={"from": row.from_id, **split})
    record(
        session,
        row.from_id,
        "customer.split_from",
        actor=actor,
        data={"into": row.into_id, **split},
    )
    return row


def _move_back(session: Session, model: Any, ids: list[int], into_id: int, from_id: int) -> int:
    if not ids:
        return 0
    changed = _order_changed() if model is Order else {}
    result = session.execute(
        update(model)
        .where(model.id.in_(ids), model.customer_id == into_id)
        .values(customer_id=from_id, **changed)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _refuse_erased(customer: Customer, what: str) -> None:
    if customer.erased_at is not None:
        raise Conflict(
            f"customer {customer.id} was erased on {customer.erased_at.date().isoformat()}: "
            f"there is nothing to {what}",
            details={"erased_at": customer.erased_at.isoformat()},
        )
