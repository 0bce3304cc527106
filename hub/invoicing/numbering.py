"""Gapless numbers per series and year, taken by the transaction that issues the document.

The counter row of (series, year) is incremented with ``UPDATE … RETURNING``:
the update locks the row until the transaction ends, so a second issuer of the
same series waits for the first to commit (or roll back) and then reads its
result. A number is used exactly when its transaction commits: a rollback
undoes the increment with everything else, so no number is skipped, and no
database sequence is involved (a sequence hands out numbers a rollback loses).
On SQLite the database has one writer at a time, which serialises the same way.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from hub.core.invoicing import invoice_number
from hub.store.models import InvoiceCounter


def take_number(session: Session, series: str, year: int) -> tuple[int, str]:
    """The next (sequence, number) of ``series`` in ``year``, held by this transaction.

    The counter row is created at the first number of a year (``INSERT … ON
    CONFLICT DO NOTHING``: two first issuers of a year do not clash), then
    incremented under its row lock.
    """
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(InvoiceCounter)
        .values(series=series, year=year, next_value=1)
        .on_conflict_do_nothing(index_elements=["series", "year"])
    )
    taken = session.execute(
        update(InvoiceCounter)
        .where(InvoiceCounter.series == series, InvoiceCounter.year == year)
        .values(next_value=InvoiceCounter.next_value + 1)
        .returning(InvoiceCounter.next_value)
    ).scalar_one()
    sequence = int(taken) - 1
    return sequence, invoice_number(series, year, sequence)
