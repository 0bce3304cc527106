"""Stripe's amount rules: the integer ``amount`` Stripe takes for a Money, and its steps.

Stripe counts most currencies in ISO 4217 minor units, with exceptions: its
"zero-decimal" currencies are sent in whole units (MGA too, which ISO gives
two decimals), ISK still takes two decimals, and its three-decimal currencies
only take multiples of 0.010 (stripe.com/docs/currencies). These rules are
Stripe's, not the hub's money: they live with the Stripe plugin, and
:mod:`hub.core.money` knows nothing of them.
"""

from __future__ import annotations

from typing import TypeGuard

from hub.core.money import CURRENCY_EXPONENTS, Money, MoneyError, currency_code

__all__ = [
    "STRIPE_THREE_DECIMAL",
    "STRIPE_THREE_DECIMAL_STEP",
    "STRIPE_TWO_DECIMAL_COMPAT",
    "STRIPE_ZERO_DECIMAL",
    "from_stripe_amount",
    "stripe_exponent",
    "stripe_rounded",
    "stripe_step",
    "to_stripe_amount",
]

# Stripe's "zero-decimal" currencies: Stripe expects whole major units for
# these. All but MGA are zero-decimal in ISO too; ISO gives MGA two decimals,
# so an MGA amount must be a whole number of ariary to be sent to Stripe.
STRIPE_ZERO_DECIMAL: frozenset[str] = frozenset(
    {
        "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA",
        "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
    }
)  # fmt: skip

# Currencies ISO counts in whole units but Stripe's API still takes with two
# decimals, for backwards compatibility: 1 ISK is sent as 100 (and Stripe
# refuses amounts not divisible by 100). Without this, ISK charges would be
# a hundred times too small.
STRIPE_TWO_DECIMAL_COMPAT: frozenset[str] = frozenset({"ISK"})

# Three-decimal currencies Stripe takes with three decimals but only in steps
# of 0.010: "these API calls require the least-significant (last) digit to
# be 0. Your integration must round amounts to the nearest ten. For example,
# 5.124 KWD must be rounded to 5120 or 5130." (stripe.com/docs/currencies,
# "Three-decimal currencies"). Stripe refuses a PaymentIntent, capture or
# refund of KWD 5.124.
STRIPE_THREE_DECIMAL: frozenset[str] = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
STRIPE_THREE_DECIMAL_STEP = 10


def _code(currency: object) -> str:
    """The normalised ISO code of ``currency``, or :class:`MoneyError` (as Money says it)."""
    return currency_code(currency)


def _is_int(value: object) -> TypeGuard[int]:
    # bool is an int subclass, but True is not an amount.
    return isinstance(value, int) and not isinstance(value, bool)


def stripe_exponent(currency: str) -> int:
    """Decimals Stripe's API uses for ``currency`` in integer ``amount`` fields.

    Usually the ISO exponent; 0 for Stripe's zero-decimal currencies (which
    adds MGA to ISO's zero-decimal ones) and 2 for ISK, which Stripe still
    takes as two-decimal.
    """
    code = _code(currency)
    if code in STRIPE_ZERO_DECIMAL:
        return 0
    if code in STRIPE_TWO_DECIMAL_COMPAT:
        return 2
    return CURRENCY_EXPONENTS[code]


def _rescale(amount: int, shift: int) -> int | None:
    """``amount * 10**shift``, or None when a negative shift would drop digits."""
    if shift >= 0:
        return amount * 10**shift
    whole, rest = divmod(amount, 10**-shift)
    return None if rest else whole


def to_stripe_amount(money: Money) -> int:
    """The integer Stripe expects in ``amount`` for ``money``.

    USD 10.00 -> 1000, JPY 1500 -> 1500, KWD 1.500 -> 1500, MGA 25.00 -> 25,
    ISK 5 -> 500. Raises :class:`MoneyError` if Stripe's unit cannot carry
    the amount exactly (MGA 25.50: Stripe counts whole ariary).

    The conversion is exact, so it does not apply Stripe's further rules:
    three-decimal currencies (BHD, JOD, KWD, OMR, TND) must end in 0 (round
    with :func:`stripe_rounded` first, which says how) and minimum/maximum
    charge amounts.
    """
    if not isinstance(money, Money):
        raise MoneyError(f"cannot convert {money!r} to a Stripe amount: not a Money")
    code = money.currency
    stripe_exp = stripe_exponent(code)
    result = _rescale(money.amount, stripe_exp - CURRENCY_EXPONENTS[code])
    if result is None:
        raise MoneyError(
            f"{money!r} cannot be sent to Stripe exactly:"
            f" Stripe takes {code} amounts with {stripe_exp} decimals"
        )
    return result


def from_stripe_amount(amount: int, currency: str) -> Money:
    """The Money for a Stripe integer ``amount`` in ``currency``; inverse of to_stripe_amount.

    Raises :class:`MoneyError` for a non-int amount or one finer than the
    ISO minor unit (ISK 510 would be 5.10 krona; ISO krona has no decimals).
    """
    code = _code(currency)
    if not _is_int(amount):
        raise MoneyError(
            f"Stripe amount must be an int, got {amount!r} ({type(amount).__name__}) for {code}"
        )
    iso_exp = CURRENCY_EXPONENTS[code]
    result = _rescale(amount, iso_exp - stripe_exponent(code))
    if result is None:
        raise MoneyError(
            f"Stripe amount {amount} for {code} is finer than {code}'s"
            f" ISO minor unit ({iso_exp} decimals)"
        )
    return Money(result, code)


def stripe_step(currency: str) -> int:
    """The minor units Stripe's amounts of ``currency`` come in steps of: 10 for
    its three-decimal currencies (multiples of 0.010), else 1."""
    return STRIPE_THREE_DECIMAL_STEP if _code(currency) in STRIPE_THREE_DECIMAL else 1


def stripe_rounded(money: Money, *, at_most: Money | None = None) -> Money:
    """``money`` as Stripe can take it: to the nearest step, never above ``at_most``.

    Stripe says to round three-decimal amounts "to the nearest ten", and its
    example (KWD 5.124 -> 5120 or 5130) leaves the direction to the
    integration: this takes the nearest (a half step goes up, away from
    zero), then steps down while above ``at_most`` (what was authorised for
    a capture, what is left to refund for a refund), so rounding never
    captures more than authorised nor refunds more than was taken. KWD 5.124
    -> 5.120, KWD 5.125 -> 5.130, KWD 5.126 at most 5.124 -> 5.120. Other
    currencies come back unchanged. The result may be zero (KWD 0.004):
    the caller decides whether that can be sent.
    """
    if not isinstance(money, Money):
        raise MoneyError(f"cannot round {money!r} for Stripe: not a Money")
    step = stripe_step(money.currency)
    if step == 1:
        return money
    whole, rest = divmod(abs(money.amount), step)
    steps = whole + (1 if 2 * rest >= step else 0)
    result = steps * step * (-1 if money.amount < 0 else 1)
    if at_most is not None:
        if at_most.currency != money.currency:
            raise MoneyError(f"cannot bound {money!r} and {at_most!r}: different currencies")
        result = min(result, at_most.amount - at_most.amount % step)
    return Money(result, money.currency)
