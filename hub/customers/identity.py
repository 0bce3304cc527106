"""Who bought: an order's buyer reduced to the keys a customer is found by.

Pure functions (the standard library and ``phonenumbers`` only), so the 0015
migration's backfill applies exactly the rule intake applies.

The rule, first that applies: the channel's own customer id when the hub knows
it (:class:`~hub.store.models.CustomerRef`); else the normalised email; else the
phone in E.164; else a new customer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers


def normalise_email(email: str | None) -> str:
    """An email as identity compares it: trimmed and lower-cased (``""`` when none)."""
    return (email or "").strip().lower()


def normalise_phone(phone: str | None, region: str | None = None) -> str | None:
    """A phone number in E.164 (``+4915123456789``), or None when it cannot be read as one.

    A number without ``+`` is read as a national number of ``region`` (ISO 3166-1
    alpha-2, the address's ``country_code``); without a region it cannot be read.
    A number phonenumbers parses but finds invalid for its country is not one either.
    """
    typed = (phone or "").strip()
    if not typed:
        return None
    country = (region or "").strip().upper() or None
    try:
        parsed = phonenumbers.parse(typed, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class Identity:
    """What an order says about its buyer, normalised for matching.

    ``phone`` is E.164 when it could be read, else as typed (kept for people,
    never matched: ``phone_e164`` is None then).
    """

    email: str
    phone: str
    phone_e164: str | None
    name: str
    external_id: str

    @property
    def anonymous(self) -> bool:
        """Nothing to recognise the buyer by again: every such order is a customer of its own."""
        return not (self.email or self.phone_e164 or self.external_id)


def region_of(*addresses: Mapping[str, Any] | None) -> str | None:
    """The country code of the first address that has one (shipping before billing)."""
    for address in addresses:
        code = str((address or {}).get("country_code") or "").strip()
        if code:
            return code.upper()
    return None


def identity_of(
    *,
    email: str | None,
    phone: str | None,
    name: str | None,
    external_id: str | None,
    region: str | None,
) -> Identity:
    """The buyer of an order as identity reads it (see the module's rule)."""
    e164 = normalise_phone(phone, region)
    return Identity(
        email=normalise_email(email),
        phone=e164 or (phone or "").strip()[:32],
        phone_e164=e164,
        name=(name or "").strip()[:200],
        external_id=str(external_id or "").strip()[:100],
    )
