"""customers

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 19:05:00

- ``customers``: one row per person or business that buys, across channels; tags
  and a note; ``merged_into_id`` (a merge keeps both rows) and ``erased_at``
  (GDPR erasure blanks the row); one active customer per normalised email
  (``uq_customers_active_email``, partial).
- ``customer_refs``: each channel's own id of a customer, unique per channel.
- ``customer_merges``: what a merge moved, so a split moves exactly that back.
- ``customer_events``: a customer's audit trail (merge, split, update, export, erase).
- ``orders.customer_id``: the customer an order belongs to, backfilled for the
  orders stored before by the rule intake applies (hub.customers.identity),
  written out here as it stands today: a migration is a snapshot, and the
  store may not import the customers package above it.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import phonenumbers
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
ACTIVE = "email <> '' AND merged_into_id IS NULL AND erased_at IS NULL"
#: Orders read per round of the backfill: memory stays flat however many there are.
BATCH = 500


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tags", _JSON, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["merged_into_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_customers_email", "customers", ["email"])
    op.create_index("ix_customers_phone", "customers", ["phone"])
    op.create_index("ix_customers_merged_into_id", "customers", ["merged_into_id"])
    op.create_index(
        "uq_customers_active_email",
        "customers",
        ["email"],
        unique=True,
        postgresql_where=sa.text(ACTIVE),
        sqlite_where=sa.text(ACTIVE),
    )
    op.create_table(
        "customer_refs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel_id", "external_id", name="uq_customer_refs_channel_external"),
    )
    op.create_index("ix_customer_refs_customer_id", "customer_refs", ["customer_id"])
    op.create_table(
        "customer_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("into_id", sa.Integer(), nullable=False),
        sa.Column("from_id", sa.Integer(), nullable=False),
        sa.Column("order_ids", _JSON, nullable=False),
        sa.Column("ref_ids", _JSON, nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["from_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["into_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_customer_merges_into_id", "customer_merges", ["into_id"])
    op.create_index("ix_customer_merges_from_id", "customer_merges", ["from_id"])
    op.create_table(
        "customer_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_customer_events_customer_id", "customer_events", ["customer_id"])
    _add_customer_column()
    op.create_index("ix_orders_customer_id", "orders", ["customer_id"])
    _backfill()


def _add_customer_column() -> None:
    """``orders.customer_id`` with its foreign key, without rebuilding ``orders``.

    Alembic's batch mode would copy the table on SQLite and lose the expression
    index ``ix_orders_placed`` (SQLite cannot reflect it); SQLite adds a column
    with its REFERENCES clause in place.
    """
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE orders ADD COLUMN customer_id INTEGER REFERENCES customers (id)")
        return
    op.add_column("orders", sa.Column("customer_id", sa.Integer(), nullable=True))
    op.create_foreign_key("fk_orders_customer_id", "orders", "customers", ["customer_id"], ["id"])


# --- the backfill: every stored order linked, by intake's rule ------------------------------------

_orders = sa.table(
    "orders",
    sa.column("id", sa.Integer),
    sa.column("channel_id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("customer_name", sa.String),
    sa.column("customer_phone", sa.String),
    sa.column("customer_external_id", sa.String),
    sa.column("shipping_address", _JSON),
    sa.column("billing_address", _JSON),
    sa.column("customer_id", sa.Integer),
)
_customers = sa.table(
    "customers",
    sa.column("id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("phone", sa.String),
    sa.column("name", sa.String),
    sa.column("tags", _JSON),
    sa.column("note", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
_refs = sa.table(
    "customer_refs",
    sa.column("customer_id", sa.Integer),
    sa.column("channel_id", sa.Integer),
    sa.column("external_id", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def _backfill() -> None:
    """Link the orders stored before customers existed, oldest first, a batch at a time.

    The rule is :mod:`hub.customers.identity`'s (a channel's customer id, else the
    normalised email, else the E.164 phone, else a new customer); each batch
    reads the customers its orders could match in three queries.
    """
    conn = op.get_bind()
    now = datetime.now(UTC)
    if conn.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # SQLite keeps naive UTC (hub.store.models.UTCDateTime)
    last = 0
    while True:
        rows = conn.execute(
            sa.select(_orders).where(_orders.c.id > last).order_by(_orders.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        last = rows[-1].id
        found = [(row, _identity(row)) for row in rows]
        known = _Known(conn, [ident for _, ident in found])
        links = []
        for row, ident in found:
            customer_id = known.match(row.channel_id, ident)
            if customer_id is None:
                customer_id = conn.execute(
                    sa.insert(_customers)
                    .values(
                        email=ident.email,
                        phone=ident.phone,
                        name=ident.name,
                        tags=[],
                        note="",
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(_customers.c.id)
                ).scalar_one()
                known.add(customer_id, ident)
            if ident.external_id and (row.channel_id, ident.external_id) not in known.refs:
                conn.execute(
                    sa.insert(_refs).values(
                        customer_id=customer_id,
                        channel_id=row.channel_id,
                        external_id=ident.external_id,
                        created_at=now,
                    )
                )
                known.refs[row.channel_id, ident.external_id] = customer_id
            links.append({"order_id": row.id, "cid": customer_id})
        conn.execute(
            sa.update(_orders)
            .where(_orders.c.id == sa.bindparam("order_id"))
            .values(customer_id=sa.bindparam("cid")),
            links,
        )


@dataclass(frozen=True)
class Identity:
    email: str
    phone: str
    phone_e164: str | None
    name: str
    external_id: str


def _identity(row: Any) -> Identity:
    """hub.customers.identity.identity_of, as of this revision."""
    region = None
    for address in (row.shipping_address, row.billing_address):
        code = str((address or {}).get("country_code") or "").strip()
        if code:
            region = code.upper()
            break
    typed = (row.customer_phone or "").strip()
    e164 = None
    if typed:
        try:
            parsed = phonenumbers.parse(typed, region)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is not None and phonenumbers.is_valid_number(parsed):
            e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return Identity(
        email=(row.email or "").strip().lower(),
        phone=e164 or typed[:32],
        phone_e164=e164,
        name=(row.customer_name or "").strip()[:200],
        external_id=str(row.customer_external_id or "").strip()[:100],
    )


class _Known:
    """The customers a batch's orders could match, by reference, email and phone."""

    def __init__(self, conn: Any, idents: list[Identity]) -> None:
        emails = sorted({i.email for i in idents if i.email})
        phones = sorted({i.phone_e164 for i in idents if i.phone_e164})
        externals = sorted({i.external_id for i in idents if i.external_id})
        self.refs: dict[tuple[int, str], int] = {}
        self.emails: dict[str, int] = {}
        self.phones: dict[str, int] = {}
        if externals:
            for r in conn.execute(
                sa.select(_refs.c.channel_id, _refs.c.external_id, _refs.c.customer_id).where(
                    _refs.c.external_id.in_(externals)
                )
            ):
                self.refs[r.channel_id, r.external_id] = r.customer_id
        if emails:
            for c in conn.execute(
                sa.select(_customers.c.id, _customers.c.email).where(_customers.c.email.in_(emails))
            ):
                self.emails.setdefault(c.email, c.id)
        if phones:
            for c in conn.execute(
                sa.select(_customers.c.id, _customers.c.phone)
                .where(_customers.c.phone.in_(phones))
                .order_by(_customers.c.id)
            ):
                self.phones.setdefault(c.phone, c.id)

    def match(self, channel_id: int, ident: Identity) -> int | None:
        if ident.external_id and (channel_id, ident.external_id) in self.refs:
            return self.refs[channel_id, ident.external_id]
        if ident.email and ident.email in self.emails:
            return self.emails[ident.email]
        if ident.phone_e164 and ident.phone_e164 in self.phones:
            return self.phones[ident.phone_e164]
        return None

    def add(self, customer_id: int, ident: Identity) -> None:
        if ident.email:
            self.emails.setdefault(ident.email, customer_id)
        if ident.phone_e164:
            self.phones.setdefault(ident.phone_e164, customer_id)


def downgrade() -> None:
    op.drop_index("ix_orders_customer_id", table_name="orders")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_orders_customer_id", "orders", type_="foreignkey")
    op.drop_column("orders", "customer_id")
    op.drop_index("ix_customer_events_customer_id", table_name="customer_events")
    op.drop_table("customer_events")
    op.drop_index("ix_customer_merges_from_id", table_name="customer_merges")
    op.drop_index("ix_customer_merges_into_id", table_name="customer_merges")
    op.drop_table("customer_merges")
    op.drop_index("ix_customer_refs_customer_id", table_name="customer_refs")
    op.drop_table("customer_refs")
    op.drop_index("uq_customers_active_email", table_name="customers")
    op.drop_index("ix_customers_merged_into_id", table_name="customers")
    op.drop_index("ix_customers_phone", table_name="customers")
    op.drop_index("ix_customers_email", table_name="customers")
    op.drop_table("customers")
