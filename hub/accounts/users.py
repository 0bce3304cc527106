"""People and API tokens: passwords hashed (scrypt), tokens stored as SHA-256 only.

A token carries a scope (:mod:`hub.accounts.scopes`); setting a person's
password ends every session they have (:mod:`hub.accounts.sessions`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from hub.accounts import sessions
from hub.accounts.scopes import DEFAULT_SCOPE, Scope
from hub.core.exceptions import ValidationError
from hub.store.models import ApiToken, User, utcnow

TOKEN_PREFIX = "hub_"
MIN_PASSWORD = 8


def set_admin(session: Session, email: str, password: str) -> tuple[User, bool]:
    """Create the user, or set its password; return it and whether it is new.

    A new password ends every session the person has: browsers signed in with
    the old one are sent to sign in again.
    """
    email = (email or "").strip().lower()
    if "@" not in email:
        raise ValidationError(f"{email!r} is not an email address", details={"email": "invalid"})
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError(
            f"the password needs at least {MIN_PASSWORD} characters",
            details={"password": "too short"},
        )
    user = session.scalars(select(User).where(User.email == email)).one_or_none()
    created = user is None
    if user is None:
        user = User(email=email, password_hash="")
        session.add(user)
    user.password_hash = generate_password_hash(password)
    session.flush()
    if not created:
        sessions.end_all(session, user.id)
    return user, created


def check_login(session: Session, email: str, password: str) -> User | None:
    user = session.scalars(
        select(User).where(User.email == (email or "").strip().lower())
    ).one_or_none()
    if user is None:
        # Same work either way, so timing does not tell which emails exist.
        check_password_hash(generate_password_hash("x"), password or "")
        return None
    return user if check_password_hash(user.password_hash, password or "") else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_scope(value: str | None) -> Scope:
    """The scope named by ``value`` (``None`` or blank: the default scope)."""
    if value is None or not value.strip():
        return DEFAULT_SCOPE
    try:
        return Scope(value.strip().lower())
    except ValueError:
        raise ValidationError(
            "a token's scope is read, write or admin", details={"scope": "unknown scope"}
        ) from None


def create_token(
    session: Session, name: str, *, scope: Scope | str | None = None
) -> tuple[ApiToken, str]:
    """Make an API token of ``scope`` (default :data:`DEFAULT_SCOPE`).

    The plain value is returned once and never stored.
    """
    name = (name or "").strip()
    if not name:
        raise ValidationError("a token needs a name", details={"name": "is required"})
    granted = parse_scope(scope)
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        token_hash=_digest(plain),
        prefix=plain[:10],
        scope=granted.value,
        created_at=utcnow(),
    )
    session.add(token)
    session.flush()
    return token, plain


def find_token(session: Session, plain: str) -> ApiToken | None:
    if not plain or not plain.startswith(TOKEN_PREFIX):
        return None
    token = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == _digest(plain))
    ).one_or_none()
    if token is None or token.revoked_at is not None:
        return None
    # The lookup is by digest; compare again in constant time for good measure.
    return token if hmac.compare_digest(token.token_hash, _digest(plain)) else None


def list_tokens(session: Session) -> list[ApiToken]:
    """Every token, the active ones first, newest first (the admin UI and ``hub token list``)."""
    return list(
        session.scalars(
            select(ApiToken).order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
        )
    )


def revoke_token(session: Session, token_id: int) -> ApiToken | None:
    """Revoke the token; return it, or None when there is no such active token."""
    token = session.get(ApiToken, token_id)
    if token is None or token.revoked_at is not None:
        return None
    token.revoked_at = utcnow()
    return token
