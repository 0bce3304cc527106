"""customers

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 19:05:00

- ``customers``: one row per person or business that buys, across channels.
- ``orders.customer_id``: the customer an order belongs to.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_customers_email", "customers", ["email"])
    op.create_index("ix_customers_phone", "customers", ["phone"])
    _add_customer_column()
    op.create_index("ix_orders_customer_id", "orders", ["customer_id"])


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


def downgrade() -> None:
    op.drop_index("ix_orders_customer_id", table_name="orders")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_orders_customer_id", "orders", type_="foreignkey")
    op.drop_column("orders", "customer_id")
    op.drop_index("ix_customers_phone", table_name="customers")
    op.drop_index("ix_customers_email", table_name="customers")
    op.drop_table("customers")
