"""API tokens: create one (its value is shown once, never stored), revoke one."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from hub.accounts import users as accounts
from hub.store.models import ApiToken, utcnow
from hub.web import get_hub
from hub.web.admin import bp
from hub.web.admin.helpers import flash_error


def _tokens(db) -> list[ApiToken]:
    return list(
        db.scalars(select(ApiToken).order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc()))
    )


@bp.get("/tokens")
def tokens():
    with get_hub().db.read() as db:
        return render_template("admin/tokens.html", tokens=_tokens(db), new_token=None)


@bp.post("/tokens")
def token_create():
    try:
        with get_hub().db.transaction() as db:
            token, plain = accounts.create_token(db, request.form.get("name", ""))
            name = token.name
    except Exception as exc:  # noqa: BLE001
        flash_error(exc)
        return redirect(url_for("admin.tokens"))
    with get_hub().db.read() as db:
        # Rendered in this answer only (not flashed: the session cookie is signed, not secret).
        return render_template(
            "admin/tokens.html",
            tokens=_tokens(db),
            new_token=plain,
            new_name=name,
            created_by=g.user.email,
        )


@bp.post("/tokens/<int:token_id>/revoke")
def token_revoke(token_id: int):
    with get_hub().db.transaction() as db:
        token = db.get(ApiToken, token_id)
        if token is not None and token.revoked_at is None:
            token.revoked_at = utcnow()
            name = token.name
        else:
            name = None
    if name:
        flash(f"Token “{name}” revoked: the API refuses it from now on.", "success")
    else:
        flash("No such token, or it was revoked already.", "error")
    return redirect(url_for("admin.tokens"))
