"""The merchant's admin UI: server-rendered pages behind a sign-in.

Every view of this blueprint needs a signed-in user except the sign-in page
itself; an anonymous request is sent to sign in. Views are thin: they parse
the form, call one function of the hub (``hub.orders.commands``, ``hub.channels.manage``,
``hub.inventory.levels``, ``hub.queue.jobs``, ``hub.channels.inbox``) and redirect with a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from sqlalchemy.orm import Session

from hub.accounts import sessions
from hub.core.money import Money
from hub.orders.timeline_words import event_words
from hub.queue.job_words import job_words
from hub.store.models import User
from hub.web import get_hub, timefmt
from hub.web.admin.helpers import people_actor_words
from hub.web.errors import http_error_response, wants_json
from hub.web.security import page_headers

bp = Blueprint("admin", __name__)

#: Endpoints of this blueprint that an anonymous visitor may reach.
PUBLIC_ENDPOINTS = frozenset({"admin.login"})
#: The key, in the signed cookie, of the value naming the session the hub keeps.
SESSION_KEY = "sid"


@dataclass(frozen=True)
class SignedIn:
    id: int
    email: str

    @property
    def actor(self) -> str:
        """How the audit trail names this person."""
        return f"user:{self.email}"


def idle_limit() -> timedelta:
    return timedelta(minutes=get_hub().settings.session_idle_minutes)


def sign_in(db: Session, user: User) -> None:
    """Start a session for ``user``, kept by the hub; the cookie gets only its name."""
    session.clear()
    session.permanent = True
    session[SESSION_KEY] = sessions.start(db, user.id, idle=idle_limit())


def signed_in() -> SignedIn | None:
    """Who the request's session belongs to, or None when it has none or it has ended.

    The cookie is only believed while the hub still keeps the session it names:
    signing out, a new password, "sign out everywhere" or idleness end it.
    """
    person = sessions.resume(get_hub().db, session.get(SESSION_KEY), idle=idle_limit())
    return SignedIn(person.user_id, person.email) if person is not None else None


@bp.before_request
def require_login():
    g.user = signed_in()
    if g.user is None and SESSION_KEY in session:
        # The cookie names a session that has ended (elsewhere, or by idleness).
        session.clear()
        flash("Your session has ended: sign in again.", "info")
    if g.user is None and request.endpoint not in PUBLIC_ENDPOINTS:
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("admin.login", next=target))
    return None


@bp.app_template_filter("datetime")
def format_datetime(value) -> str:
    """In the shop's time zone, to the minute (``4 Dec 2026, 14:05``): see hub.web.timefmt."""
    return timefmt.shop_time(value)


# Times, events and actors in words on every page (the ``when`` macro, the timeline).
bp.add_app_template_global(timefmt.moment, "moment")
bp.add_app_template_global(timefmt.shop_zone_name, "shop_zone_name")
bp.add_app_template_global(event_words, "event_words")
bp.add_app_template_global(job_words, "job_words")
bp.add_app_template_global(people_actor_words, "actor_words")


@bp.app_template_filter("money")
def format_money(amount: int, currency: str) -> str:
    """Minor units as the decimal string the API shows (``40994, "USD"`` → ``409.94``)."""
    return str(Money(amount, currency))


@bp.app_template_global("page_args")
def page_args(**overrides) -> dict:
    from hub.web.admin.helpers import page_url_args

    return page_url_args(**overrides)


@bp.app_errorhandler(404)
def not_found(exc):
    """A page in the admin's layout for a signed-in person, a plain one for anyone else.

    App-wide: an unknown URL matches no blueprint. Machine paths keep their JSON
    answers (:mod:`hub.web.errors`, and the handlers of their own blueprints).
    """
    if wants_json():
        return http_error_response(exc)
    if getattr(g, "user", None) is None:
        g.user = signed_in()
    if g.user is None:
        return render_template("errors/not_found_public.html"), 404
    return render_template("errors/not_found.html"), 404


@bp.after_request
def _headers(response):
    page_headers(response)
    # Pages carry customers' data: never keep them in a shared cache.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


from hub.web.admin import (  # noqa: E402,F401  (views register themselves on bp)
    auth,
    backoffice,
    cases,
    channel_returns,
    channel_routing,
    channels,
    customers,
    dashboard,
    email_preview,
    holds,
    invoice_pdf,
    invoices,
    jobs,
    orders,
    plugin_settings,
    plugins,
    purchasing,
    replenishment,
    returns,
    shipping_rules,  # noqa: E402,F401  (service levels, promise; issue 22)
    shop_settings,
    skus,
    stock,
    tokens,
)
