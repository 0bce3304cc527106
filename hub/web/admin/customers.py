"""Customers in the admin UI: the list with search, one customer's page and what people do there.

A customer's page shows its figures (from the orders, as the API gives them),
its order history, the addresses it used, its channels and payment gateways,
tags and a note, merges into it (each with a split button), a merge form, an
export link and an erase form that asks to type ``erase`` first. The work is
:mod:`hub.customers`'s (the API calls the same functions).
"""

from __future__ import annotations

from functools import partial

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from hub.core.exceptions import HubError, NotFound, ValidationError
from hub.customers import actions, privacy
from hub.customers import queries as customer_queries
from hub.customers.identity import normalise_email
from hub.orders import queries as order_queries
from hub.store.models import Customer, CustomerMerge
from hub.web import get_hub
from hub.web.admin import bp
from hub.web.admin.helpers import flash_error, page_of, whole_number
from hub.web.api_customers import export_download

#: What a person types to confirm an erasure (a click alone is too easy).
ERASE_WORD = "erase"


@bp.get("/customers")
def customers():
    q = (request.args.get("q") or "").strip()
    filters = customer_queries.CustomerFilters(q=q or None)
    with get_hub().db.read() as db:
        page = page_of(partial(customer_queries.search_customers, db, filters))
        counts = customer_queries.order_counts(db, (c.id for c in page.items))
        return render_template("admin/customers.html", page=page, counts=counts, q=q)


@bp.get("/customers/<int:customer_id>")
def customer(customer_id: int):
    with get_hub().db.read() as db:
        found = db.get(Customer, customer_id)
        if found is None:
            abort(404)
        history = page_of(
            partial(
                order_queries.search_orders,
                db,
                order_queries.OrderFilters(customer_id=customer_id),
            ),
            size=25,
        )
        return render_template(
            "admin/customer.html",
            customer=found,
            merged_into=db.get(Customer, found.merged_into_id) if found.merged_into_id else None,
            figures=customer_queries.figures(db, customer_id),
            history=history,
            merges=customer_queries.merges(db, customer_id),
            trail=customer_queries.events(db, customer_id, limit=50),
            erase_word=ERASE_WORD,
        )


def _back(customer_id: int, anchor: str = ""):
    return redirect(url_for("admin.customer", customer_id=customer_id) + anchor)


@bp.post("/customers/<int:customer_id>")
def customer_update(customer_id: int):
    tags = [t for t in (request.form.get("tags") or "").split(",")]
    note = (request.form.get("note") or "").replace("\r\n", "\n").strip()
    try:
        with get_hub().db.transaction() as db:
            actions.update_customer(db, customer_id, actor=g.user.actor, tags=tags, note=note)
    except HubError as exc:
        flash_error(exc)
    else:
        flash("Tags and note saved.", "success")
    return _back(customer_id, "#profile")


def _customer_named(db, typed: str) -> int:
    """The customer a person typed into the merge form: its number, or its email."""
    value = typed.strip().lstrip("#")
    number = whole_number(value)
    if isinstance(number, int):
        return number
    email = normalise_email(value)
    found = db.scalars(
        select(Customer.id)
        .where(Customer.email == email, Customer.erased_at.is_(None))
        .order_by(Customer.merged_into_id.is_not(None), Customer.id)
    ).first()
    if not value or found is None:
        raise ValidationError(
            f"no customer has the number or email {value!r}",
            details={"from": ["a customer's number or email"]},
        )
    return found


@bp.post("/customers/<int:customer_id>/merge")
def customer_merge(customer_id: int):
    try:
        with get_hub().db.transaction() as db:
            source = _customer_named(db, request.form.get("from") or "")
            row = actions.merge(db, customer_id, source, actor=g.user.actor)
            moved = len(row.order_ids or [])
    except HubError as exc:
        flash_error(exc)
        return _back(customer_id, "#merge")
    flash(
        f"Customer {source} merged into this one: {moved} order{'s' if moved != 1 else ''} moved. "
        "Split it below to undo.",
        "success",
    )
    return _back(customer_id, "#merges")


@bp.post("/customer-merges/<int:merge_id>/undo")
def customer_merge_undo(merge_id: int):
    with get_hub().db.read() as db:
        into_id = db.scalar(select(CustomerMerge.into_id).where(CustomerMerge.id == merge_id))
    if into_id is None:
        abort(404)
    try:
        with get_hub().db.transaction() as db:
            row = actions.undo_merge(db, merge_id, actor=g.user.actor)
            from_id = row.from_id
    except HubError as exc:
        flash_error(exc)
        return _back(into_id, "#merges")
    flash(f"Split: customer {from_id} is on its own again with the orders that moved.", "success")
    return _back(into_id, "#merges")


@bp.post("/customers/<int:customer_id>/erase")
def customer_erase(customer_id: int):
    if (request.form.get("confirm") or "").strip().lower() != ERASE_WORD:
        flash(f"Nothing erased: type {ERASE_WORD} in the box to confirm.", "error")
        return _back(customer_id, "#erase")
    try:
        with get_hub().db.transaction() as db:
            touched = privacy.erase_customer(db, customer_id, actor=g.user.actor)
    except HubError as exc:
        flash_error(exc)
        return _back(customer_id, "#erase")
    flash(
        f"Personal data erased from the customer and {touched.get('orders', 0)} order(s); "
        "order numbers and money stay.",
        "success",
    )
    return _back(customer_id)


@bp.get("/customers/<int:customer_id>/export")
def customer_export(customer_id: int):
    try:
        with get_hub().db.transaction() as db:
            data = privacy.export_customer(db, customer_id, actor=g.user.actor)
    except NotFound:
        abort(404)
    return export_download(customer_id, data)
