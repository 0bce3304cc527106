"""What happens to a case: opened, noted, assigned, moved between statuses, resolved by
real actions on its order (a return, a refund, a replacement order).

Each action writes a note on the case (who, what) and an event on the order's
timeline, in the caller's transaction: a refused action leaves nothing half done.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.exceptions import NotFound, ValidationError
from hub.core.lifecycle import OrderStatus
from hub.core.money import Money
from hub.core.order import Line
from hub.orders import records
from hub.orders.payments import request_refund
from hub.orders.replacements import create_replacement
from hub.returns.actions import (
    ReturnLineRequest,
    ReturnRequest,
    create_return,
    refundable_by_payment,
    returnable_quantities,
)
from hub.store.models import Case, CaseNote, Channel, Order, User, utcnow

REASONS: dict[str, str] = {
    "damaged": "Something arrived damaged",
    "wrong_item": "A wrong item arrived",
    "missing": "Something is missing",
    "late": "It arrived late",
    "other": "Something else",
}
STATUSES = ("open", "waiting_on_customer", "resolved")
STATUS_WORDS = {
    "open": "Open",
    "waiting_on_customer": "Waiting on the customer",
    "resolved": "Resolved",
}

#: Events on the order's timeline (words in hub.orders.timeline_words).
CASE_OPENED = "order.case_opened"
CASE_RESOLVED = "order.case_resolved"
REPLACEMENT_CREATED = "order.replacement_created"

#: What is kept of a note and a description.
MAX_TEXT = 5000


def get_case(session: Session, case_id: int, *, lock: bool = False) -> Case:
    query = select(Case).where(Case.id == case_id)
    if lock:
        query = query.with_for_update()
    case = session.scalars(query).one_or_none()
    if case is None:
        raise NotFound(f"case {case_id} does not exist")
    return case


def _note(case: Case, author: str, body: str) -> CaseNote:
    note = CaseNote(author=author, body=body[:MAX_TEXT], created_at=utcnow())
    case.notes.append(note)
    case.updated_at = utcnow()
    return note


def open_case(
    session: Session,
    order_id: int,
    *,
    reason: str,
    description: str = "",
    photos: list[dict[str, Any]] | None = None,
    actor: str,
) -> Case:
    """Open a case on an order (the customer's "no", or a person in the admin)."""
    if reason not in REASONS:
        raise ValidationError(
            f"unknown reason {reason!r}",
            details={"reason": [f"one of {', '.join(REASONS)}"]},
        )
    order = records.get_order(session, order_id)
    case = Case(
        order_id=order.id,
        customer_id=order.customer_id,
        status="open",
        reason=reason,
        description=(description or "").strip()[:MAX_TEXT],
        photos=list(photos or []),
        opened_by=actor,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    session.add(case)
    session.flush()
    records.record(
        session,
        order,
        CASE_OPENED,
        actor=actor,
        reason=REASONS[reason],
        data={"case_id": case.id, "reason": reason},
    )
    return case


def add_photos(case: Case, photos: list[dict[str, Any]]) -> None:
    case.photos = [*(case.photos or []), *photos]


_UNSET: Any = object()


def update_case(
    session: Session,
    case_id: int,
    *,
    actor: str,
    status: str | None = None,
    assignee_id: int | None = _UNSET,
    note: str | None = None,
) -> Case:
    """Change a case's status or assignee (``None`` unassigns) and/or add a note."""
    case = get_case(session, case_id, lock=True)
    if status is not None and status not in STATUSES:
        raise ValidationError(
            f"unknown status {status!r}", details={"status": [f"one of {', '.join(STATUSES)}"]}
        )
    if assignee_id is not _UNSET and assignee_id is not None:
        if session.get(User, assignee_id) is None:
            raise ValidationError(
                f"user {assignee_id} does not exist", details={"assignee_id": ["no such user"]}
            )
    if note is not None and not note.strip():
        raise ValidationError("a note needs some text", details={"note": ["is empty"]})
    if assignee_id is not _UNSET and assignee_id != case.assignee_id:
        case.assignee_id = assignee_id
        who = session.get(User, assignee_id).email if assignee_id else "nobody"  # type: ignore[union-attr]
        _note(case, actor, f"Assigned to {who}.")
    if status is not None and status != case.status:
        before = case.status
        case.status = status
        case.resolved_at = utcnow() if status == "resolved" else None
        _note(case, actor, f"Status: {STATUS_WORDS[before]} → {STATUS_WORDS[status]}.")
        if status == "resolved":
            records.record(
                session,
                records.get_order(session, case.order_id),
                CASE_RESOLVED,
                actor=actor,
                data={"case_id": case.id},
            )
    if note is not None:
        _note(case, actor, note.strip())
    session.flush()
    return case


def _lines_wanted(
    order: Order, lines: dict[int, int] | None, limit: dict[int, int] | None = None
) -> dict[int, int]:
    """Lines and quantities asked for, checked against the order (all its shipped lines if none)."""
    known = {line.id: line for line in order.lines if line.requires_shipping}
    if not lines:
        wanted = {lid: line.quantity for lid, line in known.items()}
    else:
        wanted = {int(k): int(v) for k, v in lines.items() if int(v) > 0}
    errors = {}
    for line_id, qty in wanted.items():
        most = (limit or {}).get(line_id, known[line_id].quantity) if line_id in known else 0
        if line_id not in known:
            errors[str(line_id)] = f"order {order.label} has no line {line_id} that ships"
        elif qty > most:
            errors[str(line_id)] = f"at most {most}"
    if limit is not None:
        wanted = {k: min(v, limit.get(k, 0)) for k, v in wanted.items()}
        wanted = {k: v for k, v in wanted.items() if v > 0}
    if errors:
        raise ValidationError("the lines are not right", details={"lines": errors})
    if not wanted:
        raise ValidationError("nothing to act on", details={"lines": ["no line is left"]})
    return wanted


def open_return(
    session: Session, case_id: int, *, actor: str, lines: dict[int, int] | None = None
) -> Case:
    """Resolve by a return of the case's order (all returnable units unless ``lines`` says)."""
    case = get_case(session, case_id, lock=True)
    order = records.get_order(session, case.order_id)
    returnable = returnable_quantities(session, order)
    if not lines:
        lines = {k: v for k, v in returnable.items() if v > 0}
    wanted = _lines_wanted(order, lines, returnable)
    ret = create_return(
        session,
        order.id,
        ReturnRequest(
            lines=[ReturnLineRequest(line_id=k, quantity=v) for k, v in wanted.items()],
            reason=f"case {case.id}: {REASONS[case.reason].lower()}",
            note=case.description[:500],
        ),
        actor=actor,
    )
    case.return_id = ret.id
    _note(case, actor, f"Return {ret.id} opened ({sum(wanted.values())} units).")
    session.flush()
    return case


def refund(session: Session, case_id: int, *, actor: str, amount: str) -> Case:
    """Resolve by giving money back on the order's payments (the gateways, as any refund).

    ``amount`` is a decimal string in the order's currency (``"12.50"``).
    """
    case = get_case(session, case_id, lock=True)
    order = records.get_order(session, case.order_id)
    minor = Money.parse(amount, order.currency).amount
    available = refundable_by_payment(session, order)
    most = Money.of_minor(sum(left for _, left in available), order.currency)
    if minor <= 0 or minor > most.amount:
        raise ValidationError(
            f"order {order.label} can be refunded more than nothing and at most {most} {order.currency} "
            "through its payments",
            details={"amount": [f"at most {most}"]},
        )
    left = minor
    for payment, can in available:
        part = min(can, left)
        # One refund per case and payment: the same click twice never refunds twice.
        request_refund(session, payment, part, key=f"case:{case.id}", reason=f"case {case.id}")
        left -= part
        if not left:
            break
    shown = Money.of_minor(minor, order.currency)
    _note(case, actor, f"Refund of {shown} {order.currency} requested from the payment gateway.")
    session.flush()
    return case


def reship(
    session: Session,
    case_id: int,
    manual_channel: Channel,
    *,
    actor: str,
    lines: dict[int, int] | None = None,
) -> Order:
    """Resolve by sending the goods again: a replacement order at zero price on the manual
    channel, checked, reserved and shipped as any other order. Once per case."""
    case = get_case(session, case_id, lock=True)
    if case.replacement_order_id is not None:
        raise ValidationError(
            f"case {case.id} has a replacement order already",
            details={"replacement_order_id": case.replacement_order_id},
        )
    original = records.get_order(session, case.order_id)
    if original.status == OrderStatus.CANCELLED:
        raise ValidationError(f"order {original.label} is cancelled: nothing to send again")
    wanted = _lines_wanted(original, lines)
    by_id = {line.id: line for line in original.lines}
    # The same zero-price order an exchange makes (hub.orders.replacements).
    replacement = create_replacement(
        session,
        original,
        manual_channel,
        [
            Line(
                sku=by_id[k].sku,
                name=by_id[k].name,
                quantity=v,
                unit_price=0,
                product_id=by_id[k].product_id,
            )
            for k, v in wanted.items()
        ],
        external_id=f"case-{case.id}-replacement",
        suffix=f"-R{case.id}",
        tags=["replacement", f"case:{case.id}"],
        notes=f"Replacement for order {original.label} (case {case.id}).",
        actor=actor,
    )
    case.replacement_order_id = replacement.id
    _note(case, actor, f"Replacement order {replacement.label} created.")
    records.record(
        session,
        original,
        REPLACEMENT_CREATED,
        actor=actor,
        data={"case_id": case.id, "order_id": replacement.id, "number": replacement.label},
    )
    session.flush()
    return replacement
