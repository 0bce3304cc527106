"""Cases in the admin UI: the list (by status), a case's page (notes, assignee, status, the
customer's photos) and its resolutions, which are real actions on the order: a return, a
refund through the order's payments, or a replacement order. Also each sales channel's
satisfaction check settings (``/satisfaction``).

The work is :mod:`hub.cases.actions`' and :mod:`hub.aftercare.policy`'s (the API calls
the same); each form posts with its CSRF token and comes back with what happened.
"""

from __future__ import annotations

from functools import partial

from flask import abort, flash, g, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from hub.aftercare import checks
from hub.aftercare import policy as policies
from hub.cases import actions as cases
from hub.cases import photos as case_photos
from hub.cases.queries import (
    CaseFilters,
    case_detail,
    case_summary,
    find_case,
    search_cases,
    status_counts,
)
from hub.channels.manage import ensure_manual_channel
from hub.core.exceptions import NotFound
from hub.orders.serialize import money
from hub.returns.actions import refundable_by_payment, returnable_quantities
from hub.store.models import Case, Channel, Order, User
from hub.web import get_hub
from hub.web.admin import bp
from hub.web.admin.helpers import flash_error, page_of


@bp.get("/cases")
def cases_list():
    status = request.args.get("status", "")
    status = status if status in cases.STATUSES else ""
    with get_hub().db.read() as db:
        page = page_of(partial(search_cases, db, CaseFilters(status=status or None)))
        return render_template(
            "admin/cases.html",
            page=page,
            status=status,
            counts=status_counts(db),
            statuses=cases.STATUSES,
            status_words=cases.STATUS_WORDS,
            reasons=cases.REASONS,
        )


def order_cases(order_id: int) -> list[dict]:
    """The cases of one order, for the order page's Cases section (oldest first)."""
    with get_hub().db.read() as db:
        found = search_cases(db, CaseFilters(order_id=order_id), limit=100).rows
        return [case_summary(c) for c in reversed(found)]


bp.add_app_template_global(order_cases, "order_cases")


@bp.app_context_processor
def _case_reasons() -> dict:
    return {"case_reasons": cases.REASONS}


@bp.post("/orders/<int:order_id>/cases")
def case_open(order_id: int):
    """A person opens a case (a phone call, an email from the customer)."""
    reason = request.form.get("reason", "")
    description = request.form.get("description", "")
    try:
        with get_hub().db.transaction() as db:
            case_id = cases.open_case(
                db, order_id, reason=reason, description=description, actor=g.user.actor
            ).id
    except Exception as exc:  # noqa: BLE001
        flash_error(exc)
        return redirect(url_for("admin.order", order_id=order_id) + "#cases")
    flash(f"Case {case_id} opened.", "success")
    return redirect(url_for("admin.case", case_id=case_id))


@bp.get("/cases/<int:case_id>")
def case(case_id: int):
    with get_hub().db.read() as db:
        found = find_case(db, case_id)
        if found is None:
            abort(404)
        order = found.order
        refundable = sum(left for _, left in refundable_by_payment(db, order))
        returnable = {k: v for k, v in returnable_quantities(db, order).items() if v > 0}
        return render_template(
            "admin/case.html",
            case=case_detail(found),
            created_at=found.created_at,
            replacement_label=(
                db.get(Order, found.replacement_order_id).label  # type: ignore[union-attr]
                if found.replacement_order_id
                else ""
            ),
            notes=list(found.notes),
            order=order,
            lines=[line for line in order.lines if line.requires_shipping],
            users=db.scalars(select(User).order_by(User.email)).all(),
            statuses=cases.STATUSES,
            status_words=cases.STATUS_WORDS,
            refundable=money(refundable, order.currency) if refundable else None,
            returnable=returnable,
        )


@bp.get("/cases/<int:case_id>/photos/<int:index>")
def case_photo(case_id: int, index: int):
    hub = get_hub()
    with hub.db.read() as db:
        found = db.get(Case, case_id)
        kept = list(found.photos or []) if found is not None else []
    if not 0 <= index < len(kept):
        abort(404)
    photo = kept[index]
    try:
        path = case_photos.path_of(hub.settings.data_dir, case_id, photo)
    except NotFound:
        abort(404)
    return send_file(
        path,
        mimetype=photo.get("content_type") or "application/octet-stream",
        download_name=photo.get("name") or f"photo-{index + 1}",
    )


def _lines_from_form() -> dict[int, int]:
    out = {}
    for key, value in request.form.items():
        if key.startswith("qty-") and value.strip():
            try:
                out[int(key[4:])] = int(value)
            except ValueError:
                continue
    return out


def _act(case_id: int, action, done: str):
    try:
        with get_hub().db.transaction() as db:
            message = action(db) or done
    except Exception as exc:  # noqa: BLE001  (shown to the person, logged when unexpected)
        flash_error(exc)
    else:
        flash(message, "success")
    return redirect(url_for("admin.case", case_id=case_id))


@bp.post("/cases/<int:case_id>")
def case_update(case_id: int):
    status = request.form.get("status") or None
    raw_assignee = request.form.get("assignee_id", "")
    assignee = int(raw_assignee) if raw_assignee.isdigit() else None
    note = request.form.get("note", "")

    def update(db):
        cases.update_case(
            db,
            case_id,
            actor=g.user.actor,
            status=status,
            assignee_id=assignee,
            note=note if note.strip() else None,
        )

    return _act(case_id, update, f"Case {case_id} saved.")


@bp.post("/cases/<int:case_id>/return")
def case_return(case_id: int):
    lines = _lines_from_form()

    def open_return(db):
        found = cases.open_return(db, case_id, actor=g.user.actor, lines=lines)
        return (
            f"Return {found.return_id} opened for case {case_id}: approve it on the order's page."
        )

    return _act(case_id, open_return, "")


@bp.post("/cases/<int:case_id>/refund")
def case_refund(case_id: int):
    amount = request.form.get("amount", "").strip()

    def refund(db):
        cases.refund(db, case_id, actor=g.user.actor, amount=amount)
        return f"Refund of {amount} requested from the payment gateway for case {case_id}."

    return _act(case_id, refund, "")


@bp.post("/cases/<int:case_id>/reship")
def case_reship(case_id: int):
    lines = _lines_from_form()
    hub = get_hub()

    def reship(db):
        replacement = cases.reship(
            db, case_id, ensure_manual_channel(hub, db), actor=g.user.actor, lines=lines
        )
        return (
            f"Replacement order {replacement.label} created at no charge: it is checked, "
            "reserved and shipped like any other order."
        )

    return _act(case_id, reship, "")


# --- each sales channel's satisfaction check --------------------------------------------------


@bp.get("/satisfaction")
def satisfaction_settings():
    hub = get_hub()
    with hub.db.read() as db:
        channels = [
            c
            for c in db.scalars(select(Channel).order_by(Channel.name))
            if c.connector in hub.connectors and "sales" in hub.connector_class(c.connector).roles
        ]
        return render_template(
            "admin/satisfaction.html",
            channels=[(c, policies.read(db, c.id)) for c in channels],
            counts=checks.counts(db),
            placeholders=policies.PLACEHOLDERS,
            max_days=policies.MAX_DAYS,
        )


@bp.post("/satisfaction/<int:channel_id>")
def satisfaction_save(channel_id: int):
    values = {
        "enabled": request.form.get("enabled") == "on",
        "check_days": request.form.get("check_days", ""),
        "product_url_template": request.form.get("product_url_template", "").strip(),
        "review_url_template": request.form.get("review_url_template", "").strip(),
    }
    try:
        with get_hub().db.transaction() as db:
            saved = policies.save(db, channel_id, values, actor=g.user.actor)
    except Exception as exc:  # noqa: BLE001
        flash_error(exc)
    else:
        flash(
            f"Saved: satisfaction check {'on, ' + str(saved.check_days) + ' days after delivery' if saved.enabled else 'off'}.",
            "success",
        )
    return redirect(url_for("admin.satisfaction_settings"))
