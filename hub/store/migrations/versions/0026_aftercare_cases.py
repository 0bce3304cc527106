"""the satisfaction check, review requests, opt-outs and cases

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04 22:10:00

- ``aftercare_policies``: per sales channel, the satisfaction check on or off,
  its days after delivery and the review link template.
- ``satisfaction_checks``: one per order at most (sent or skipped), with the answer.
- ``message_opt_outs``: customers who want no checks or review requests (by email hash).
- ``cases`` and ``case_notes``: customers' problems worked to a resolution.
- ``ix_order_events_name_created``: delivered orders found by the time of delivery.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_index("ix_order_events_name_created", "order_events", ["name", "created_at"])
    op.create_table(
        "aftercare_policies",
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("check_days", sa.Integer(), nullable=False),
        sa.Column("product_url_template", sa.Text(), nullable=False),
        sa.Column("review_url_template", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("channel_id"),
    )
    op.create_table(
        "satisfaction_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("skipped_reason", sa.String(length=200), nullable=False),
        sa.Column("answer", sa.String(length=8), nullable=False),
        sa.Column("answered_at", _TIME, nullable=True),
        sa.Column("review_requested_at", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id"),
    )
    op.create_table(
        "message_opt_outs",
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("email_hash"),
    )
    op.create_index("ix_message_opt_outs_customer_id", "message_opt_outs", ["customer_id"])
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("photos", _JSON, nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("opened_by", sa.String(length=200), nullable=False),
        sa.Column("return_id", sa.Integer(), nullable=True),
        sa.Column("replacement_order_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("resolved_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["return_id"], ["returns.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["replacement_order_id"], ["orders.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_cases_order_id", "cases", ["order_id"])
    op.create_index("ix_cases_customer_id", "cases", ["customer_id"])
    op.create_index("ix_cases_status_id", "cases", ["status", "id"])
    op.create_table(
        "case_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_notes_case_id", "case_notes", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_case_notes_case_id", table_name="case_notes")
    op.drop_table("case_notes")
    op.drop_index("ix_cases_status_id", table_name="cases")
    op.drop_index("ix_cases_customer_id", table_name="cases")
    op.drop_index("ix_cases_order_id", table_name="cases")
    op.drop_table("cases")
    op.drop_index("ix_message_opt_outs_customer_id", table_name="message_opt_outs")
    op.drop_table("message_opt_outs")
    op.drop_table("satisfaction_checks")
    op.drop_table("aftercare_policies")
    op.drop_index("ix_order_events_name_created", table_name="order_events")
