"""Who an order's buyer is: email and phone normalised, the rule's inputs (hub.customers.identity)."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from hub.customers.identity import identity_of, normalise_email, normalise_phone, region_of


def test_an_email_is_one_however_it_is_typed():
    assert (
        normalise_email("Ana@Example.com")
        == normalise_email(" ana@example.com")
        == ("ana@example.com")
    )
    assert normalise_email(None) == normalise_email("   ") == ""


@given(
    local=st.text(string.ascii_letters + string.digits + "._+-", min_size=1, max_size=20),
    domain=st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=20),
    pad=st.text(" \t\n", max_size=3),
)
def test_normalising_an_email_ignores_case_and_surrounding_space(local, domain, pad):
    email = f"{local}@{domain}.com"
    variants = (email, email.upper(), email.swapcase(), f"{pad}{email}{pad}")
    assert {normalise_email(v) for v in variants} == {email.lower()}
    assert normalise_email(normalise_email(email)) == normalise_email(email)


def test_a_phone_reads_to_e164_with_the_address_country_for_a_national_number():
    assert normalise_phone("+49 151 23456789") == "+4915123456789"
    assert normalise_phone("0151 23456789", "DE") == "+4915123456789"
    assert normalise_phone("(415) 555-2671", "us") == "+14155552671"
    # Without a country a national number cannot be read; nor can words or an impossible number.
    assert normalise_phone("0151 23456789") is None
    assert normalise_phone("call me", "DE") is None
    assert normalise_phone("+49 1", "DE") is None
    assert normalise_phone("", "DE") is None


@given(st.sampled_from(["+4915123456789", "+14155552671", "+447911123456"]), st.data())
def test_a_read_phone_reads_the_same_whatever_its_spacing(e164, data):
    spaced = "".join(
        ch + data.draw(st.sampled_from(["", " ", "-"]), label="sep") for ch in e164
    ).strip(" -")
    assert normalise_phone(spaced) == e164
    assert normalise_phone(normalise_phone(spaced)) == e164


def test_an_unreadable_phone_is_kept_as_typed_but_plays_no_part_in_identity():
    ident = identity_of(email="", phone=" ext. 12 ", name="Ana", external_id="", region="DE")
    assert ident.phone == "ext. 12" and ident.phone_e164 is None
    assert ident.anonymous


def test_the_region_is_the_first_address_with_a_country():
    assert region_of(None, {"country_code": "fr"}) == "FR"
    assert region_of({"country_code": "DE"}, {"country_code": "FR"}) == "DE"
    assert region_of({}, None) is None
