"""The web app: ``create_app(config=None)``, one blueprint per module.

Configuration comes from defaults, then ``HUB_*`` environment variables, then
the ``config`` mapping (tests pass one). A ready-made :class:`hub.runtime.hub.Hub`
can be handed over as ``config["HUB"]``; otherwise one is built from the
settings.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app

from hub.runtime.hub import Hub
from hub.store.config import Settings


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(DATA_DIR=None, DATABASE_URL=None, SECRET_KEY=None, METRICS_PUBLIC=False)
    # Admin UI session cookie: not readable by scripts, not sent on cross-site posts,
    # Secure on every answer over HTTPS (hub.web.security; HUB_SESSION_COOKIE_SECURE=true
    # forces it). It names a session the hub keeps: it ends at sign-out, on a new password,
    # on "sign out everywhere", or after HUB_SESSION_IDLE_MINUTES idle, 12 hours at most.
    app.config.from_mapping(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=12 * 3600,
    )
    # Machine-facing surfaces: webhook body limit (default: the hub's
    # HUB_WEBHOOK_MAX_BYTES setting), REST API body limit, and the public base URL
    # that webhook URLs are shown with (default: the request's own host).
    app.config.from_mapping(WEBHOOK_MAX_BYTES=None, API_MAX_BYTES=None, PUBLIC_URL=None)
    app.config.from_prefixed_env("HUB")
    if config:
        app.config.from_mapping(config)
    hub = app.config.get("HUB")
    if hub is None:
        settings = Settings.from_env(
            data_dir=app.config.get("DATA_DIR"),
            database_url=app.config.get("DATABASE_URL"),
        )
        hub = Hub(settings)
    app.extensions["hub"] = hub

    from hub.web import (
        aftercare,
        api,
        errors,
        ops,
        security,
        track,
        track_choices,
        track_returns,
        webhooks,
    )
    from hub.web.admin import bp as admin_bp

    # JSON answers for routing errors (404, 405) under /api/, /webhooks/, /metrics.
    errors.init_app(app)
    # Session key derived from the hub's secret key; CSRF on every cookie-borne write.
    security.init_app(app, hub.secrets)
    app.register_blueprint(ops.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(track.bp)
    app.register_blueprint(aftercare.bp)
    app.register_blueprint(track_returns.bp)
    app.register_blueprint(track_choices.bp)
    app.register_blueprint(admin_bp)
    hub.pm.hook.hub_register_blueprints(app=app)
    # POST /webhooks/<slug> is answered below Flask (see webhooks.Ingress).
    # Wrapping wsgi_app is Flask's documented way to add middleware; its type
    # declares a method, so the assignment needs the ignore (flask typing gap).
    app.wsgi_app = webhooks.Ingress(app, app.wsgi_app)  # type: ignore[method-assign]
    if hub.settings.proxy_hops:
        # Behind reverse proxies: the client's address (sign-in throttle, /metrics from
        # loopback only), scheme and host come from their X-Forwarded-* headers.
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = hub.settings.proxy_hops
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]  # as above
            app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n
        )
    return app


def get_hub() -> Hub:
    return current_app.extensions["hub"]
