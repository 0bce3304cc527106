"""where things are: locations' addresses and coordinates, where an order's address was placed

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 22:10:00

- ``locations``: an address (``address1``, ``address2``, ``city``,
  ``province_code``, ``zip``, ``country_code``, named as an order's address
  names them) and ``latitude`` / ``longitude`` in degrees (both or neither).
- ``orders.ship_latitude`` / ``ship_longitude``: where the shipping address was
  placed; ``ship_geo_precision`` how sure (``exact``, ``postal_code``, ``city``,
  ``country``; NULL until placed) and ``ship_geo_source`` by what.
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_LOCATION_TEXT = (
    ("address1", 200),
    ("address2", 200),
    ("city", 100),
    ("province_code", 16),
    ("zip", 20),
    ("country_code", 2),
)


def upgrade() -> None:
    for name, length in _LOCATION_TEXT:
        op.add_column(
            "locations",
            sa.Column(name, sa.String(length=length), nullable=False, server_default=""),
        )
    op.add_column("locations", sa.Column("latitude", sa.Float(), nullable=True))
    op.add_column("locations", sa.Column("longitude", sa.Float(), nullable=True))
    # In place, never batch_alter_table: a copy of ``orders`` on SQLite would lose
    # its expression index (ix_orders_placed).
    op.add_column("orders", sa.Column("ship_latitude", sa.Float(), nullable=True))
    op.add_column("orders", sa.Column("ship_longitude", sa.Float(), nullable=True))
    op.add_column("orders", sa.Column("ship_geo_precision", sa.String(length=16), nullable=True))
    op.add_column("orders", sa.Column("ship_geo_source", sa.String(length=40), nullable=True))


def downgrade() -> None:
    for name in ("ship_geo_source", "ship_geo_precision", "ship_longitude", "ship_latitude"):
        op.drop_column("orders", name)
    for name in ("longitude", "latitude", *(name for name, _ in reversed(_LOCATION_TEXT))):
        op.drop_column("locations", name)
