"""Signing in and out (here, or on every device at once), throttled after repeated failures."""

from __future__ import annotations

import logging

from flask import flash, g, redirect, render_template, request, session, url_for

from hub.accounts import sessions, throttle
from hub.accounts.users import check_login
from hub.web import get_hub
from hub.web.admin import SESSION_KEY, bp, sign_in
from hub.web.admin.helpers import safe_next
from hub.web.security import rotate_csrf_token

log = logging.getLogger(__name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.values.get("next"), url_for("admin.dashboard"))
    if g.user is not None:
        return redirect(next_url)
    if request.method == "GET":
        return render_template("admin/login.html", next=next_url, email="")
    email = (request.form.get("email") or "").strip().lower()
    password = request.form.get("password") or ""
    ip = request.remote_addr or "unknown"
    hub = get_hub()
    with hub.db.transaction() as db:
        lock = throttle.check(db, email, ip)
        if lock is None:
            user = check_login(db, email, password)
            if user is not None:
                throttle.clear(db, email, ip)
                sign_in(db, user)
                rotate_csrf_token()
                log.info("admin sign-in: %s from %s", email, ip)
                return redirect(next_url)
            lock = throttle.record_failure(db, email, ip)
            log.warning("admin sign-in failed for %s from %s", email, ip)
    if lock is not None:
        message = (
            f"Too many failed sign-ins for this email from your address. "
            f"Try again in {lock.minutes_left()} minute{'s' if lock.minutes_left() != 1 else ''}."
        )
        status = 429
    else:
        message, status = "Wrong email or password.", 401
    flash(message, "error")
    return render_template("admin/login.html", next=next_url, email=email), status


@bp.post("/logout")
def logout():
    """End this session: the hub forgets it, so a copy of the cookie leads nowhere."""
    with get_hub().db.transaction() as db:
        sessions.end(db, session.get(SESSION_KEY))
    _forget_session()
    flash("You are signed out.", "info")
    return redirect(url_for("admin.login"))


@bp.post("/logout/everywhere")
def logout_everywhere():
    """End every session of this person: other browsers, other devices, forgotten tabs."""
    with get_hub().db.transaction() as db:
        ended = sessions.end_all(db, g.user.id)
    log.info("admin %s signed out everywhere (%d session(s))", g.user.email, ended)
    _forget_session()
    flash("You are signed out on every device.", "info")
    return redirect(url_for("admin.login"))


def _forget_session() -> None:
    session.clear()
    rotate_csrf_token()
