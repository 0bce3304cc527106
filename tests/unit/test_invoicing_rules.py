"""The rules of invoices alone (hub.core.invoicing): numbers, statuses, terms, tax per rate, ageing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from hub.core.invoicing import (
    Taxed,
    TaxGroup,
    age_bucket,
    credited_taxes,
    format_rate,
    invoice_number,
    is_overdue,
    net_base,
    payment_terms,
    status_for,
    tax_rate,
    taxes_by_rate,
    terms_for,
)


def test_numbers_carry_series_year_and_six_digits_and_grow_past_them():
    assert invoice_number("INV", 2026, 1) == "INV-2026-000001"
    assert invoice_number("CN", 2027, 42) == "CN-2027-000042"
    assert invoice_number("INV", 2026, 1_234_567) == "INV-2026-1234567"
    with pytest.raises(ValueError):
        invoice_number("INV", 2026, 0)


@pytest.mark.parametrize(
    ("total", "paid", "status"),
    [(1000, 0, "open"), (1000, 1, "partially_paid"), (1000, 1000, "paid"), (0, 0, "paid")],
)
def test_the_status_follows_what_was_paid(total, paid, status):
    assert status_for(total, paid) == status


def test_an_unpaid_invoice_is_overdue_the_day_after_it_falls_due():
    due = datetime(2027, 1, 3, 15, 0, tzinfo=UTC)
    assert not is_overdue("open", due, datetime(2027, 1, 3, 23, 59, tzinfo=UTC))
    assert is_overdue("open", due, datetime(2027, 1, 4, 0, 0, tzinfo=UTC))
    assert is_overdue("partially_paid", due, due + timedelta(days=2))
    assert not is_overdue("paid", due, due + timedelta(days=2))
    assert not is_overdue("open", None, due)


def test_terms_are_the_longest_a_tag_earns_else_the_default():
    assert terms_for(["B2B", "vip"], 14, {"b2b": 30, "vip": 45}) == 45
    assert terms_for(["retail"], 14, {"b2b": 30}) == 14
    assert payment_terms(paid=False, terms_days=30, due=date(2027, 1, 3)) == (
        "Net 30 (due 2027-01-03)"
    )
    assert payment_terms(paid=True, terms_days=30, due=None) == "Paid"
    assert payment_terms(paid=False, terms_days=0, due=None) == "Due on receipt"


def test_the_rate_is_read_back_from_amounts_to_a_hundredth_of_a_percent():
    assert tax_rate(4000, 760) == Decimal("19.00")
    assert format_rate(tax_rate(4000, 760)) == "19%"
    assert format_rate(tax_rate(1000, 75)) == "7.5%"
    assert format_rate(tax_rate(10000, 825)) == "8.25%"
    assert format_rate(tax_rate(22497, 1350)) == "6%"  # Shopify's 6 % on 224.97, rounded by cent
    assert tax_rate(0, 0) is None and format_rate(None) == ""


def test_the_base_is_the_net_amount_in_both_kinds_of_shop():
    assert net_base(11900, 1900, taxes_included=True) == 10000
    assert net_base(10000, 1900, taxes_included=False) == 10000


def test_taxes_group_by_rate_highest_first_and_add_up_exactly():
    groups = taxes_by_rate(
        [Taxed(4000, 760), Taxed(1000, 70), Taxed(500, 95), Taxed(300, 0), Taxed(0, 0)]
    )
    assert groups == [
        TaxGroup("19%", 4500, 855),
        TaxGroup("7%", 1000, 70),
        TaxGroup("0%", 300, 0),
    ]


def test_a_credit_takes_each_rate_in_proportion_to_the_minor_unit():
    groups = [TaxGroup("19%", 4500, 855), TaxGroup("7%", 1000, 70)]
    half = credited_taxes(groups, 3212, 6425, "USD")  # half of a 64.25 invoice, near enough
    assert [g.rate for g in half] == ["19%", "7%"]
    assert sum(g.amount for g in half) == (925 * 3212 + 6425 // 2) // 6425
    assert credited_taxes(groups, 6425, 6425, "USD") == groups


@pytest.mark.parametrize(
    ("days", "bucket"), [(0, "0-30"), (30, "0-30"), (31, "31-60"), (61, "61-90"), (91, "90+")]
)
def test_age_buckets(days, bucket):
    assert age_bucket(days) == bucket
