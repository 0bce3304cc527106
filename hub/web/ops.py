"""Operations endpoints: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import ipaddress

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub.web import errors, get_hub

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    """The process answers."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """The database answers and its schema is current."""
    from hub.store.migrate import is_current

    hub = get_hub()
    try:
        hub.db.ping()
        current = is_current(hub.db)
    except Exception as exc:  # not ready is an answer, not an error
        return jsonify(status="unavailable", reason=exc.__class__.__name__), 503
    if not current:
        return jsonify(status="unavailable", reason="database schema is not current"), 503
    return jsonify(status="ok")


# --- /metrics ------------------------------------------------------------------------------------


def _from_loopback() -> bool:
    try:
        return ipaddress.ip_address((request.remote_addr or "").split("%")[0]).is_loopback
    except ValueError:
        return False


def _metrics_allowed() -> tuple[bool, int, str]:
    """Who may read /metrics: anyone when METRICS_PUBLIC, loopback, or a valid API token."""
    if current_app.config.get("METRICS_PUBLIC") or _from_loopback():
        return True, 200, ""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        from hub.accounts.users import find_token

        with get_hub().db.read() as session:
            if find_token(session, value.strip()) is not None:
                return True, 200, ""
        return False, 401, "the API token is unknown or revoked"
    return (
        False,
        403,
        (
            "metrics are served to loopback, to a request with an API token "
            "(Authorization: Bearer), or to anyone with HUB_METRICS_PUBLIC=1"
        ),
    )


@bp.get("/metrics")
def metrics():
    """Prometheus metrics of this hub (text exposition format)."""
    allowed, status, message = _metrics_allowed()
    if not allowed:
        response = errors.error_response(
            status, "unauthorized" if status == 401 else "forbidden", message
        )
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="hub"'
        return response
    return Response(generate_latest(get_hub().metrics.registry), mimetype=CONTENT_TYPE_LATEST)
