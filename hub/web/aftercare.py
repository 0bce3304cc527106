"""The customer's answers to a satisfaction check: ``/aftercare/<token>/yes|no`` and the
unsubscribe link, no sign-in.

The token is a signed link for one order (:mod:`hub.aftercare.links`), so it is
the only key, and it expires. Following a link never changes anything by
itself (mail scanners open links): "yes" and "unsubscribe" are one button, "no"
a short form. The unsubscribe address also takes the mail client's one-click
``POST`` (RFC 8058), which carries no cookie: it is exempt from the CSRF check
(:data:`hub.web.security.CSRF_EXEMPT_PREFIXES`), its signed token being the key.
"""

from __future__ import annotations

import logging

from flask import Blueprint, render_template, request

from hub.aftercare import checks
from hub.aftercare.links import LinkExpired
from hub.cases import actions as cases
from hub.cases import photos as case_photos
from hub.core.exceptions import Conflict, NotFound, ValidationError
from hub.pipeline.aftercare import aftercare_links
from hub.web import get_hub
from hub.web.security import page_headers

log = logging.getLogger(__name__)

bp = Blueprint("aftercare", __name__, url_prefix="/aftercare")

#: What a "no" form may weigh: the photos and a little for the rest.
MAX_FORM_BYTES = case_photos.MAX_PHOTOS * case_photos.MAX_BYTES + 64 * 1024


@bp.after_request
def _headers(response):
    page_headers(response)
    # The token is in the URL: never send it on, never index it, never cache it.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _links():
    return aftercare_links(get_hub())


def _gone(exc: NotFound):
    expired = isinstance(exc, LinkExpired)
    return render_template("aftercare/invalid.html", expired=expired), 410 if expired else 404


@bp.route("/<token>/yes", methods=["GET", "POST"])
def answer_yes(token: str):
    links = _links()
    try:
        order_id = links.signer.order_of(token)
        if request.method == "GET":
            with get_hub().db.read() as db:
                order = checks.answerable_order(db, order_id)
                return render_template("aftercare/yes.html", number=order.label)
        with get_hub().db.transaction() as db:
            answer = checks.answer_yes(db, order_id, links)
    except Conflict as exc:
        return render_template("aftercare/thanks.html", message=str(exc), review_links=[]), 409
    except NotFound as exc:
        return _gone(exc)
    return render_template(
        "aftercare/thanks.html",
        message="Thank you! We are glad all arrived well.",
        review_links=answer.review_links,
    )


@bp.route("/<token>/no", methods=["GET", "POST"])
def answer_no(token: str):
    hub = get_hub()
    try:
        order_id = _links().signer.order_of(token)
        with hub.db.read() as db:
            order = checks.answerable_order(db, order_id)
            number = order.label
    except Conflict as exc:
        return render_template("aftercare/thanks.html", message=str(exc), review_links=[]), 409
    except NotFound as exc:
        return _gone(exc)
    form = {"reason": "", "description": ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        # A body larger than the form can be is refused before it is read (a body sent
        # without its length stops being read at the limit: werkzeug answers 413).
        request.max_content_length = MAX_FORM_BYTES
        if (request.content_length or 0) > MAX_FORM_BYTES:
            errors["photos"] = (
                f"The photos are too large: at most {case_photos.MAX_PHOTOS} photos "
                f"of {case_photos.MAX_BYTES // (1024 * 1024)} MB each."
            )
        else:
            form = {
                "reason": request.form.get("reason", ""),
                "description": request.form.get("description", "")[: cases.MAX_TEXT],
            }
            if form["reason"] not in cases.REASONS:
                errors["reason"] = "Please choose what happened."
        if not errors:
            try:
                uploads = [
                    case_photos.Upload(f.filename or "photo", f.read(case_photos.MAX_BYTES + 1))
                    for f in request.files.getlist("photos")
                    if f and f.filename
                ]
                checked = case_photos.check(uploads)
                with hub.db.transaction() as db:
                    case = checks.answer_no(
                        db,
                        order_id,
                        reason=form["reason"],
                        description=form["description"],
                    )
                    case.photos = case_photos.store(hub.settings.data_dir, case.id, checked)
                    case_id = case.id
            except ValidationError as exc:
                errors = {
                    k: "; ".join(map(str, v)) if isinstance(v, list) else str(v)
                    for k, v in (exc.details or {}).items()
                } or {"form": str(exc)}
            except Conflict as exc:
                return (
                    render_template("aftercare/thanks.html", message=str(exc), review_links=[]),
                    409,
                )
            else:
                log.info("case %s opened by the customer of order %s", case_id, order_id)
                return render_template(
                    "aftercare/thanks.html",
                    message="Thank you for telling us. We are sorry, and will be in touch "
                    "to put it right.",
                    review_links=[],
                )
    return (
        render_template(
            "aftercare/no.html",
            number=number,
            reasons=cases.REASONS,
            form=form,
            errors=errors,
            max_photos=case_photos.MAX_PHOTOS,
            max_mb=case_photos.MAX_BYTES // (1024 * 1024),
        ),
        422 if errors else 200,
    )


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    try:
        order_id = _links().signer.order_to_unsubscribe(token)
        if request.method == "GET":
            return render_template("aftercare/unsubscribe.html", done=False)
        with get_hub().db.transaction() as db:
            checks.unsubscribe(db, order_id)
    except NotFound as exc:
        return _gone(exc)
    return render_template("aftercare/unsubscribe.html", done=True)
