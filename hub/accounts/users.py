"""People and API tokens: passwords hashed (scrypt), tokens stored as SHA-256 only."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from hub.core.exceptions import ValidationError
from hub.store.models import ApiToken, User, utcnow

TOKEN_PREFIX = "hub_"
MIN_PASSWORD = 8


def set_admin(session: Session, email: str, password: str) -> tuple[User, bool]:
    """Create the user, or set its password; return it and whether it is new."""
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


def create_token(session: Session, name: str) -> tuple[ApiToken, str]:
    """Make an API token; the plain value is returned once and never stored."""
    name = (name or "").strip()
    if not name:
        raise ValidationError("a token needs a name", details={"name": "is required"})
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, token_hash=_digest(plain), prefix=plain[:10], created_at=utcnow())
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
