"""ERP export ledger of invoices and credit notes

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 19:30:00

- ``erp_exported_invoices``: each invoice and credit note an ERP channel received,
  with the file (``erp_exports``) it went in; unique per (channel, document), so a
  document is exported once per channel.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erp_exported_invoices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("export_id", sa.Integer(), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["export_id"], ["erp_exports.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "channel_id", "invoice_id", name="uq_erp_exported_invoices_channel_invoice"
        ),
    )
    op.create_index(
        "ix_erp_exported_invoices_export_id", "erp_exported_invoices", ["export_id"], unique=False
    )
    op.create_index(
        "ix_erp_exported_invoices_invoice_id", "erp_exported_invoices", ["invoice_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_erp_exported_invoices_invoice_id", table_name="erp_exported_invoices")
    op.drop_index("ix_erp_exported_invoices_export_id", table_name="erp_exported_invoices")
    op.drop_table("erp_exported_invoices")
