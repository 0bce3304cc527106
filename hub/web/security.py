"""Browser-facing security: the session key, CSRF protection, response headers.

- The session cookie is signed with a key *derived* from the hub's secret key
  (``HUB_SECRET_KEY`` or the key file in the data dir): every web process of
  one hub shares it, none of them holds a constant, and the encryption key
  itself signs nothing. It only names a session the hub keeps
  (:mod:`hub.accounts.sessions`), so ending that session ends the cookie too.
- The cookie is ``Secure`` whenever the request came over HTTPS, directly or
  through the trusted proxies (``HUB_PROXY_HOPS``: ProxyFix sets the scheme
  from ``X-Forwarded-Proto``), so a browser never sends it over plain HTTP
  afterwards; ``HUB_SESSION_COOKIE_SECURE=true`` forces it on every answer.
- CSRF: one random token per session, put in every form by
  ``{{ csrf_field() }}`` and checked with :func:`hmac.compare_digest` on every
  request that can change something (POST, PUT, PATCH, DELETE). A request
  without the right token is refused with 400 before its view runs. Only
  ``/webhooks/`` (signed by the provider) and ``/api/`` (bearer tokens, no
  cookies) are exempt: neither trusts a browser's cookies.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, Response, has_request_context, render_template, request, session
from flask.sessions import SecureCookieSessionInterface
from markupsafe import Markup, escape

CSRF_SESSION_KEY = "csrf_token"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
#: URL prefixes whose requests do not ride on the browser's session cookie.
#: The unsubscribe link takes mail clients' one-click POST (RFC 8058): its signed token is the key.
CSRF_EXEMPT_PREFIXES: tuple[str, ...] = ("/webhooks/", "/api/", "/aftercare/unsubscribe/")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: For the pages of the admin UI and the tracking page: no inline script, no
#: framing, no third-party anything. Inline SVG is markup, not script: allowed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, marked ``Secure`` on every answer to an HTTPS request."""

    def get_cookie_secure(self, app: Flask) -> bool:
        configured = bool(app.config.get("SESSION_COOKIE_SECURE"))
        return configured or (has_request_context() and request.is_secure)


def init_app(app: Flask, secret_box) -> None:
    """Sign sessions with a derived key and guard every cookie-borne write with CSRF."""
    app.secret_key = secret_box.derive("web-session")
    app.session_interface = SessionInterface()
    app.before_request(_check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["csrf_field"] = csrf_field


def csrf_token() -> str:
    """This session's CSRF token, made on first use."""
    token = session.get(CSRF_SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return token


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        CSRF_FIELD, escape(csrf_token())
    )


def rotate_csrf_token() -> None:
    """A new token (after signing in or out), so one seen before is worthless."""
    session[CSRF_SESSION_KEY] = secrets.token_urlsafe(32)


def csrf_exempt(path: str) -> bool:
    return path.startswith(CSRF_EXEMPT_PREFIXES)


def _check_csrf():
    if request.method not in UNSAFE_METHODS or csrf_exempt(request.path):
        return None
    expected = session.get(CSRF_SESSION_KEY)
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if expected and sent and hmac.compare_digest(str(expected).encode(), str(sent).encode()):
        return None
    html = render_template("errors/csrf.html")
    return Response(html, status=400, mimetype="text/html")


def page_headers(response: Response) -> Response:
    """Headers for every page a browser shows (admin UI, tracking page)."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
