"""Operations endpoints: liveness, readiness."""

from __future__ import annotations

from flask import Blueprint, jsonify

from . import get_hub

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    """The process answers."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """The database answers and its schema is current."""
    from ..migrate import is_current

    hub = get_hub()
    try:
        hub.db.ping()
        current = is_current(hub.db)
    except Exception as exc:  # not ready is an answer, not an error
        return jsonify(status="unavailable", reason=exc.__class__.__name__), 503
    if not current:
        return jsonify(status="unavailable", reason="database schema is not current"), 503
    return jsonify(status="ok")
