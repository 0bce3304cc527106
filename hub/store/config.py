"""Where the hub keeps its data and how it reaches its database.

Read from the environment (``HUB_*``) with defaults for the embedded case:
``HUB_DATA_DIR`` (default ``./hub-data``) holds ``hub.db`` and the secret key
file; ``HUB_DATABASE_URL`` selects another database (PostgreSQL:
``postgresql+psycopg://user@host/db``). ``HUB_PUBLIC_URL`` is the address
customers reach the hub at (links in emails to ``/track/<token>``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.core.timezones import UnknownTimeZone, canonical_name

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    secret_key: str | None = None
    webhook_max_bytes: int = 5 * 1024 * 1024
    job_lease_seconds: int = 300
    # Order checks (hub.validation): currencies orders may be in (empty: any
    # ISO 4217 currency) and how close two identical orders count as a duplicate.
    currencies: tuple[str, ...] = ()
    duplicate_window_minutes: int = 10
    #: Scheme, host (and port) customers reach the hub at, without a trailing slash.
    public_url: str = DEFAULT_PUBLIC_URL
    #: How long webhook ingest may use a channel it read (its enabled flag and
    #: secret) before reading it again. Changes made in this process apply at
    #: once; a secret changed elsewhere applies at once too (a signature that
    #: fails is checked again against the channel read fresh).
    channel_cache_seconds: float = 2.0
    #: Reverse proxies in front of the web server that set X-Forwarded-For,
    #: -Proto and -Host (nginx, Caddy, a load balancer: usually 1). Their
    #: headers are believed for that many hops; with 0 (the default) they are
    #: ignored, so a client cannot claim another address.
    proxy_hops: int = 0
    #: The one folder ERP channels may read and write under (``HUB_ERP_ROOT``;
    #: default ``<data dir>/erp``): an ERP channel's folders must lie inside it.
    erp_root: Path | None = None
    #: Whether connectors may call loopback, link-local and private addresses
    #: (``HUB_ALLOW_PRIVATE_TARGETS``): off in production, on for the demo and
    #: tests, whose sandboxes listen on 127.0.0.1.
    allow_private_targets: bool = False
    #: A signed-in person who does nothing for this long is signed out
    #: (``HUB_SESSION_IDLE_MINUTES``).
    session_idle_minutes: int = 120
    #: How long finished work is kept before the purge job removes it
    #: (``HUB_RETENTION_DAYS``): succeeded jobs, processed webhook events,
    #: delivery attempts, audit payloads. Dead letters and order history stay.
    retention_days: int = 30
    #: The merchant's time zone, an IANA name (``HUB_TIMEZONE``, default UTC): the admin
    #: shows times in it until the shop settings name another (hub.runtime.shop_settings).
    time_zone: str = "UTC"
    #: The seller every invoice names (``HUB_SELLER_LEGAL_NAME``, ``HUB_SELLER_ADDRESS``
    #: with its lines split by newlines or ``|``, ``HUB_SELLER_TAX_ID``, ``HUB_SELLER_EMAIL``).
    #: The hub issues no invoice until the legal name is set (hub.invoicing).
    seller_legal_name: str = ""
    seller_address: str = ""
    seller_tax_id: str = ""
    seller_email: str = ""
    #: How long a carrier's rate quote is reused for orders to the same zone and weight
    #: band (``HUB_RATE_QUOTE_TTL_SECONDS``, default an hour; hub.routing.rates).
    rate_quote_ttl_seconds: int = 3600
    #: Grams per unit of a SKU whose weight is not known, for rate quotes
    #: (``HUB_DEFAULT_UNIT_GRAMS``, default 500).
    default_unit_grams: int = 500
    #: Processes that draw PDFs (invoices, credit notes, purchase orders) beside the hub's
    #: own (``HUB_PDF_PROCESSES``, default 1; 0 draws them in the job's thread):
    #: hub.invoicing.drawing.
    pdf_processes: int = 1
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        if env is None:
            env = os.environ
        data_dir = Path(overrides.pop("data_dir", None) or env.get("HUB_DATA_DIR") or "hub-data")
        data_dir = data_dir.expanduser().resolve()
        url = overrides.pop("database_url", None) or env.get("HUB_DATABASE_URL") or ""
        if not url:
            url = f"sqlite:///{data_dir / 'hub.db'}"
        return cls(
            data_dir=data_dir,
            database_url=url,
            secret_key=overrides.pop("secret_key", None) or env.get("HUB_SECRET_KEY") or None,
            webhook_max_bytes=int(
                overrides.pop("webhook_max_bytes", None)
                or env.get("HUB_WEBHOOK_MAX_BYTES")
                or 5 * 1024 * 1024
            ),
            job_lease_seconds=int(
                overrides.pop("job_lease_seconds", None) or env.get("HUB_JOB_LEASE_SECONDS") or 300
            ),
            currencies=_codes(overrides.pop("currencies", None) or env.get("HUB_CURRENCIES") or ""),
            duplicate_window_minutes=int(
                _first(
                    overrides.pop("duplicate_window_minutes", None),
                    env.get("HUB_DUPLICATE_WINDOW_MINUTES"),
                    10,
                )
            ),
            channel_cache_seconds=float(
                _first(
                    overrides.pop("channel_cache_seconds", None),
                    env.get("HUB_CHANNEL_CACHE_SECONDS"),
                    2.0,
                )
            ),
            proxy_hops=_hops(
                _first(overrides.pop("proxy_hops", None), env.get("HUB_PROXY_HOPS"), 0)
            ),
            public_url=(
                overrides.pop("public_url", None) or env.get("HUB_PUBLIC_URL") or DEFAULT_PUBLIC_URL
            ).rstrip("/"),
            erp_root=Path(
                _first(overrides.pop("erp_root", None), env.get("HUB_ERP_ROOT"), data_dir / "erp")
            )
            .expanduser()
            .resolve(),
            allow_private_targets=_flag(
                "HUB_ALLOW_PRIVATE_TARGETS",
                _first(
                    overrides.pop("allow_private_targets", None),
                    env.get("HUB_ALLOW_PRIVATE_TARGETS"),
                    False,
                ),
            ),
            session_idle_minutes=_whole(
                "HUB_SESSION_IDLE_MINUTES",
                _first(
                    overrides.pop("session_idle_minutes", None),
                    env.get("HUB_SESSION_IDLE_MINUTES"),
                    120,
                ),
                minimum=1,
            ),
            retention_days=_whole(
                "HUB_RETENTION_DAYS",
                _first(overrides.pop("retention_days", None), env.get("HUB_RETENTION_DAYS"), 30),
                minimum=1,
            ),
            time_zone=_zone(
                _first(overrides.pop("time_zone", None), env.get("HUB_TIMEZONE"), "UTC")
            ),
            seller_legal_name=_text(overrides, env, "seller_legal_name"),
            seller_address=_text(overrides, env, "seller_address"),
            seller_tax_id=_text(overrides, env, "seller_tax_id"),
            seller_email=_text(overrides, env, "seller_email"),
            rate_quote_ttl_seconds=_whole(
                "HUB_RATE_QUOTE_TTL_SECONDS",
                _first(
                    overrides.pop("rate_quote_ttl_seconds", None),
                    env.get("HUB_RATE_QUOTE_TTL_SECONDS"),
                    3600,
                ),
                minimum=0,
            ),
            default_unit_grams=_whole(
                "HUB_DEFAULT_UNIT_GRAMS",
                _first(
                    overrides.pop("default_unit_grams", None),
                    env.get("HUB_DEFAULT_UNIT_GRAMS"),
                    500,
                ),
                minimum=1,
            ),
            pdf_processes=_whole(
                "HUB_PDF_PROCESSES",
                _first(overrides.pop("pdf_processes", None), env.get("HUB_PDF_PROCESSES"), 1),
                minimum=0,
            ),
            extra=overrides,
        )

    @property
    def erp_folder(self) -> Path:
        """Where ERP channels' folders must lie (:attr:`erp_root`, or ``<data dir>/erp``)."""
        return self.erp_root or (self.data_dir / "erp").resolve()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _text(overrides: dict[str, Any], env: Mapping[str, str], name: str) -> str:
    """A text setting: the override, else ``HUB_<NAME>``, else blank."""
    value = overrides.pop(name, None)
    return str(value if value is not None else env.get(f"HUB_{name.upper()}", "")).strip()


def _codes(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``"usd, eur"`` (or a list) -> ``("EUR", "USD")``."""
    items = value.split(",") if isinstance(value, str) else value
    return tuple(sorted({c.strip().upper() for c in items if c and c.strip()}))


def _first(*values: Any) -> Any:
    """The first value that is not None or blank (0 counts as a value)."""
    return next(v for v in values if v is not None and v != "")


def _zone(value: Any) -> str:
    try:
        return canonical_name(str(value))
    except UnknownTimeZone as exc:
        raise ValueError(f"HUB_TIMEZONE: {exc}") from None


def _hops(value: Any) -> int:
    try:
        hops = int(value)
    except (TypeError, ValueError):
        hops = -1
    if not 0 <= hops <= 10:
        raise ValueError(f"HUB_PROXY_HOPS must be a whole number from 0 to 10, not {value!r}")
    return hops


def _flag(name: str, value: Any) -> bool:
    """A yes/no setting: ``1/true/yes/on`` or ``0/false/no/off`` (any case), or a bool."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{name} must be one of 1/true/yes/on or 0/false/no/off, not {value!r}")


def _whole(name: str, value: Any, *, minimum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = minimum - 1
    if number < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum}, not {value!r}")
    return number
