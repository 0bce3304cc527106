"""API tokens: create one of a scope (its value is shown once, never stored), list, revoke."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for

from hub.accounts import users as accounts
from hub.accounts.scopes import DEFAULT_SCOPE, SCOPES
from hub.web import get_hub
from hub.web.admin import bp
from hub.web.admin.helpers import flash_error


def _page(**extra):
    with get_hub().db.read() as db:
        return render_template(
            "admin/tokens.html",
            tokens=accounts.list_tokens(db),
            scopes=SCOPES,
            default_scope=str(DEFAULT_SCOPE),
            **{"new_token": None, **extra},
        )


@bp.get("/tokens")
def tokens():
    return _page()


@bp.post("/tokens")
def token_create():
    try:
        with get_hub().db.transaction() as db:
            token, plain = accounts.create_token(
                db, request.form.get("name", ""), scope=request.form.get("scope")
            )
            name = token.name
    except Exception as exc:  # noqa: BLE001
        flash_error(exc)
        return redirect(url_for("admin.tokens"))
    # Rendered in this answer only (not flashed: the session cookie is signed, not secret).
    return _page(new_token=plain, new_name=name, created_by=g.user.email)


@bp.post("/tokens/<int:token_id>/revoke")
def token_revoke(token_id: int):
    with get_hub().db.transaction() as db:
        token = accounts.revoke_token(db, token_id)
        name = token.name if token is not None else None
    if name:
        flash(f"Token “{name}” revoked: the API refuses it from now on.", "success")
    else:
        flash("No such token, or it was revoked already.", "error")
    return redirect(url_for("admin.tokens"))
