"""The delay notice's choice on the tracking page: ``/track/choice/<signed token>``, no sign-in.

An out-of-stock delay notice (:mod:`hub.pipeline.delays`) carries a signed link
for its order (:mod:`hub.aftercare.links`, expiring after
:data:`~hub.aftercare.links.CHOICE_DAYS`): it opens the order's tracking page
with the section ``track/_delay_choice.html``: wait, take the alternative, or
cancel the missing items for a refund. Following the link changes nothing by
itself (mail scanners open links): each choice is a button (``POST`` with the
session's CSRF token). The work is :func:`hub.orders.substitutes.choose`,
once per order: a second click shows what was chosen.

The order's plain tracking page (``/track/<token>``) shows the answer once
given, without the buttons.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, render_template, request
from sqlalchemy.orm import Session

from hub.aftercare.links import LinkExpired
from hub.core.exceptions import Conflict, NotFound, ValidationError
from hub.orders import substitutes
from hub.orders.records import get_order
from hub.pipeline.aftercare import aftercare_links
from hub.store.models import Order
from hub.web import get_hub, track

log = logging.getLogger(__name__)

bp = Blueprint("track_choices", __name__, url_prefix="/track")
bp.after_request(track._headers)


def _answered(session: Session, order: Order) -> dict[str, Any] | None:
    answer = substitutes.answer_of(session, order.id)
    if answer is None:
        return None
    data = answer.data or {}
    return {
        "choice": data.get("choice"),
        "lines": data.get("lines") or [],
        "refund": data.get("refund"),
        "at": answer.created_at,
    }


def section(session: Session, order: Order, token: str | None = None) -> dict[str, Any] | None:
    """What the page's choice section shows: the answer once given; with the link's ``token``,
    the choices still open."""
    answered = _answered(session, order)
    if token is None:
        return {"answered": answered, "open": ()} if answered else None
    try:
        state = substitutes.choosing(session, order)
    except NotFound:
        return None
    names: dict[Any, str] = {line.id: line.name or line.sku for line in order.lines}
    return {
        "answered": answered,
        "open": state.open,
        "offers": [{**x, "name": names.get(x.get("line_id"), x["sku"])} for x in state.offers],
        "lines": state.lines,
        "action": f"/track/choice/{token}",
    }


def _gone(exc: NotFound):
    expired = isinstance(exc, LinkExpired)
    return render_template("aftercare/invalid.html", expired=expired), 410 if expired else 404


def _render(token: str, order_id: int, *, error: str = "", status: int = 200):
    with get_hub().db.read() as db:
        order = get_order(db, order_id, lock=False)
        page = track.full_page(db, order)
        page["choice"] = section(db, order, token)
        if page["choice"] is None:
            raise NotFound("this link is not valid")
        page["choice"]["error"] = error
    return render_template("track/order.html", **page), status


@bp.route("/choice/<token>", methods=["GET", "POST"])
def choose(token: str):
    hub = get_hub()
    try:
        order_id = aftercare_links(hub).signer.order_to_choose(token)
        if request.method == "GET":
            return _render(token, order_id)
        try:
            with hub.db.transaction() as db:
                chosen = substitutes.choose(
                    db, order_id, request.form.get("choice", ""), actor="customer"
                )
                new = chosen.new
        except (Conflict, ValidationError) as exc:
            return _render(token, order_id, error=exc.message, status=409)
        if new:
            log.info("order %s: the customer answered its delay notice", order_id)
        return _render(token, order_id)
    except NotFound as exc:
        return _gone(exc)
