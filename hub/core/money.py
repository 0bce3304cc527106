"""Money: an integer amount of minor units plus an ISO 4217 currency code.

Every amount the hub stores, compares or adds is a whole number of the
currency's *minor unit* (cents for USD, yen for JPY, fils for KWD), paired
with the currency it is counted in. The number of minor units in a major unit
is ``10 ** exponent(currency)``, taken from ISO 4217.

Floats are never money: ``0.1 + 0.2 != 0.3`` in binary floating point, and a
rounding error in a total is a reconciliation ticket. Amounts arrive as
decimal strings (or ``Decimal``) and are parsed *exactly* by
:meth:`Money.parse`; an input with more decimals than its currency has is an
error, never silently rounded. Splitting an amount (discounts, refunds across
lines) goes through :meth:`Money.allocate`, whose shares always add up to the
whole, so no cent is created or lost.

This module is plain standard-library Python so the domain can be read and
tested alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeGuard

from hub.core.exceptions import ValidationError

__all__ = [
    "CURRENCY_EXPONENTS",
    "MAX_AMOUNT",
    "Money",
    "MoneyError",
    "currency_code",
    "exponent",
]


class MoneyError(ValidationError, ValueError):
    """An amount or currency that cannot be money as given.

    A :class:`ValidationError` of the hub, and a ``ValueError`` so callers
    validating input can catch either;
    the message always names the offending input and its currency.
    """


# Minor-unit exponent of every currency in ISO 4217 list one (Table A.1,
# "current currency & funds code list"), as maintained by SIX on behalf of
# ISO. Codes whose minor unit is "N.A." there (XAU, XAG, XPD, XPT, XBA-XBD,
# XDR, XSU, XUA, XTS, XXX) are deliberately absent: they are not amounts a
# shop can charge, so exponent() reports them as unknown. Fund codes that do
# have a minor unit (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW) are listed.
CURRENCY_EXPONENTS: dict[str, int] = {
    "AED": 2,  # UAE dirham
    "AFN": 2,  # Afghani
    "ALL": 2,  # Lek
    "AMD": 2,  # Armenian dram
    "AOA": 2,  # Kwanza
    "ARS": 2,  # Argentine peso
    "AUD": 2,  # Australian dollar
    "AWG": 2,  # Aruban florin
    "AZN": 2,  # Azerbaijan manat
    "BAM": 2,  # Convertible mark
    "BBD": 2,  # Barbados dollar
    "BDT": 2,  # Taka
    "BGN": 2,  # Bulgarian lev (euro from 2026; kept while ISO lists it)
    "BHD": 3,  # Bahraini dinar
    "BIF": 0,  # Burundi franc
    "BMD": 2,  # Bermudian dollar
    "BND": 2,  # Brunei dollar
    "BOB": 2,  # Boliviano
    "BOV": 2,  # Mvdol (fund)
    "BRL": 2,  # Brazilian real
    "BSD": 2,  # Bahamian dollar
    "BTN": 2,  # Ngultrum
    "BWP": 2,  # Pula
    "BYN": 2,  # Belarusian ruble
    "BZD": 2,  # Belize dollar
    "CAD": 2,  # Canadian dollar
    "CDF": 2,  # Congolese franc
    "CHE": 2,  # WIR euro (fund)
    "CHF": 2,  # Swiss franc
    "CHW": 2,  # WIR franc (fund)
    "CLF": 4,  # Unidad de Fomento (fund)
    "CLP": 0,  # Chilean peso
    "CNY": 2,  # Yuan renminbi
    "COP": 2,  # Colombian peso
    "COU": 2,  # Unidad de Valor Real (fund)
    "CRC": 2,  # Costa Rican colon
    "CUP": 2,  # Cuban peso
    "CVE": 2,  # Cabo Verde escudo
    "CZK": 2,  # Czech koruna
    "DJF": 0,  # Djibouti franc
    "DKK": 2,  # Danish krone
    "DOP": 2,  # Dominican peso
    "DZD": 2,  # Algerian dinar
    "EGP": 2,  # Egyptian pound
    "ERN": 2,  # Nakfa
    "ETB": 2,  # Ethiopian birr
    "EUR": 2,  # Euro
    "FJD": 2,  # Fiji dollar
    "FKP": 2,  # Falkland Islands pound
    "GBP": 2,  # Pound sterling
    "GEL": 2,  # Lari
    "GHS": 2,  # Ghana cedi
    "GIP": 2,  # Gibraltar pound
    "GMD": 2,  # Dalasi
    "GNF": 0,  # Guinean franc
    "GTQ": 2,  # Quetzal
    "GYD": 2,  # Guyana dollar
    "HKD": 2,  # Hong Kong dollar
    "HNL": 2,  # Lempira
    "HTG": 2,  # Gourde
    "HUF": 2,  # Forint
    "IDR": 2,  # Rupiah
    "ILS": 2,  # New Israeli sheqel
    "INR": 2,  # Indian rupee
    "IQD": 3,  # Iraqi dinar
    "IRR": 2,  # Iranian rial
    "ISK": 0,  # Iceland krona
    "JMD": 2,  # Jamaican dollar
    "JOD": 3,  # Jordanian dinar
    "JPY": 0,  # Yen
    "KES": 2,  # Kenyan shilling
    "KGS": 2,  # Som
    "KHR": 2,  # Riel
    "KMF": 0,  # Comorian franc
    "KPW": 2,  # North Korean won
    "KRW": 0,  # Won
    "KWD": 3,  # Kuwaiti dinar
    "KYD": 2,  # Cayman Islands dollar
    "KZT": 2,  # Tenge
    "LAK": 2,  # Lao kip
    "LBP": 2,  # Lebanese pound
    "LKR": 2,  # Sri Lanka rupee
    "LRD": 2,  # Liberian dollar
    "LSL": 2,  # Loti
    "LYD": 3,  # Libyan dinar
    "MAD": 2,  # Moroccan dirham
    "MDL": 2,  # Moldovan leu
    "MGA": 2,  # Malagasy ariary (ISO says 2; Stripe treats it as zero-decimal)
    "MKD": 2,  # Denar
    "MMK": 2,  # Kyat
    "MNT": 2,  # Tugrik
    "MOP": 2,  # Pataca
    "MRU": 2,  # Ouguiya
    "MUR": 2,  # Mauritius rupee
    "MVR": 2,  # Rufiyaa
    "MWK": 2,  # Malawi kwacha
    "MXN": 2,  # Mexican peso
    "MXV": 2,  # Mexican Unidad de Inversion (fund)
    "MYR": 2,  # Malaysian ringgit
    "MZN": 2,  # Mozambique metical
    "NAD": 2,  # Namibia dollar
    "NGN": 2,  # Naira
    "NIO": 2,  # Cordoba oro
    "NOK": 2,  # Norwegian krone
    "NPR": 2,  # Nepalese rupee
    "NZD": 2,  # New Zealand dollar
    "OMR": 3,  # Rial Omani
    "PAB": 2,  # Balboa
    "PEN": 2,  # Sol
    "PGK": 2,  # Kina
    "PHP": 2,  # Philippine peso
    "PKR": 2,  # Pakistan rupee
    "PLN": 2,  # Zloty
    "PYG": 0,  # Guarani
    "QAR": 2,  # Qatari rial
    "RON": 2,  # Romanian leu
    "RSD": 2,  # Serbian dinar
    "RUB": 2,  # Russian ruble
    "RWF": 0,  # Rwanda franc
    "SAR": 2,  # Saudi riyal
    "SBD": 2,  # Solomon Islands dollar
    "SCR": 2,  # Seychelles rupee
    "SDG": 2,  # Sudanese pound
    "SEK": 2,  # Swedish krona
    "SGD": 2,  # Singapore dollar
    "SHP": 2,  # Saint Helena pound
    "SLE": 2,  # Leone (redenominated, replaces SLL)
    "SOS": 2,  # Somali shilling
    "SRD": 2,  # Surinam dollar
    "SSP": 2,  # South Sudanese pound
    "STN": 2,  # Dobra
    "SVC": 2,  # El Salvador colon
    "SYP": 2,  # Syrian pound
    "SZL": 2,  # Lilangeni
    "THB": 2,  # Baht
    "TJS": 2,  # Somoni
    "TMT": 2,  # Turkmenistan new manat
    "TND": 3,  # Tunisian dinar
    "TOP": 2,  # Pa'anga
    "TRY": 2,  # Turkish lira
    "TTD": 2,  # Trinidad and Tobago dollar
    "TWD": 2,  # New Taiwan dollar
    "TZS": 2,  # Tanzanian shilling
    "UAH": 2,  # Hryvnia
    "UGX": 0,  # Uganda shilling
    "USD": 2,  # US dollar
    "USN": 2,  # US dollar, next day (fund)
    "UYI": 0,  # Uruguay peso en unidades indexadas (fund)
    "UYU": 2,  # Peso uruguayo
    "UYW": 4,  # Unidad previsional (fund)
    "UZS": 2,  # Uzbekistan sum
    "VED": 2,  # Bolivar soberano, redenominated
    "VES": 2,  # Bolivar soberano
    "VND": 0,  # Dong
    "VUV": 0,  # Vatu
    "WST": 2,  # Tala
    "XAF": 0,  # CFA franc BEAC
    "XCD": 2,  # East Caribbean dollar
    "XCG": 2,  # Caribbean guilder (replaces ANG from 2025)
    "XOF": 0,  # CFA franc BCEAO
    "XPF": 0,  # CFP franc
    "YER": 2,  # Yemeni rial
    "ZAR": 2,  # Rand
    "ZMW": 2,  # Zambian kwacha
    "ZWG": 2,  # Zimbabwe Gold (replaces ZWL from 2024)
    # Codes being withdrawn in favour of the replacements above. Kept so that
    # orders and payments recorded in them during the changeover still load;
    # the exponent is unchanged, so keeping them can never misread an amount.
    "ANG": 2,  # Netherlands Antillean guilder -> XCG
    "CUC": 2,  # Cuban convertible peso (being phased out)
    "SLL": 2,  # Leone, pre-redenomination -> SLE
    "ZWL": 2,  # Zimbabwe dollar -> ZWG
}

#: Largest amount (minor units) an order or any of its parts may have: far above any real
#: order, far below what a 64-bit database integer holds once lines are summed.
MAX_AMOUNT = 10**15

# A parsed amount may have at most this many digits before the decimal point.
# Far beyond any real amount, but it stops a hostile payload such as
# Decimal("1E+999999999") (what json.loads(parse_float=Decimal) makes of
# "1e999999999") from building a billion-digit integer.
_MAX_INTEGER_DIGITS = 50

# Plain decimal notation only: optional sign, ASCII digits, optional point.
# No exponents, no thousands separators, no underscores, no NaN/Infinity,
# which Decimal() itself would all accept.
_DECIMAL_TEXT = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?")


def currency_code(currency: object) -> str:
    """Return the normalised ISO code for ``currency`` (" usd " is USD) or raise MoneyError."""
    if not isinstance(currency, str):
        raise MoneyError(
            f"invalid currency {currency!r}: expected a 3-letter ISO 4217 code such as 'USD'"
        )
    stripped = currency.strip()
    # isascii() before upper(): str.upper() can change the length of
    # non-ASCII text ('ß' -> 'SS'), which must not turn junk into a code.
    if len(stripped) != 3 or not stripped.isascii() or not stripped.isalpha():
        raise MoneyError(
            f"invalid currency {currency!r}: expected a 3-letter ISO 4217 code such as 'USD'"
        )
    code = stripped.upper()
    if code not in CURRENCY_EXPONENTS:
        raise MoneyError(f"unknown currency {code!r}")
    return code


def exponent(currency: str) -> int:
    """Number of decimals of ``currency``'s minor unit (USD 2, JPY 0, KWD 3).

    Accepts any case and surrounding whitespace (" usd " is USD); raises
    :class:`MoneyError` for malformed or unknown codes.
    """
    return CURRENCY_EXPONENTS[currency_code(currency)]


def _is_int(value: object) -> TypeGuard[int]:
    # bool is an int subclass, but True is not an amount or a weight.
    return isinstance(value, int) and not isinstance(value, bool)


def _minor_units(sign: str, digits: str, point: int, currency: str, shown: str) -> int:
    """Exact minor units of the number ``sign digits * 10**point`` in ``currency``.

    ``shown`` is the caller's input as it should appear in error messages.
    Works on digit strings rather than Decimal arithmetic because Decimal
    operations round to the context precision (28 digits) without warning.
    """
    exp = CURRENCY_EXPONENTS[currency]
    # Trailing zeros carry no value ("1500.00" JPY is fine); drop them first
    # so only significant decimals count against the currency's exponent.
    significant = digits.rstrip("0")
    point += len(digits) - len(significant)
    significant = significant.lstrip("0")
    if not significant:
        return 0
    if point + exp < 0:
        raise MoneyError(f"{shown} has more decimals than {currency} allows ({exp})")
    if len(significant) + point > _MAX_INTEGER_DIGITS:
        raise MoneyError(f"{shown} is too large to be an amount of {currency}")
    minor = int(significant) * 10 ** (point + exp)
    return -minor if sign == "-" else minor


def _parse_minor(value: object, currency: str) -> int:
    """Minor units of ``value`` (already-normalised ``currency``); see Money.parse."""
    if isinstance(value, bool):
        raise MoneyError(f"cannot use {value!r} as an amount of {currency}: not a number")
    if isinstance(value, float):
        raise MoneyError(
            f"floats are never money: got {value!r} for {currency};"
            " pass the amount as a decimal string such as '12.34'"
        )
    if isinstance(value, int):
        # An int is a count of major units: parse(5, "USD") is $5.00.
        return value * 10 ** CURRENCY_EXPONENTS[currency]
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise MoneyError(f"{value!r} is not an amount of {currency}: not a finite number")
        negative, digit_tuple, point = value.as_tuple()
        assert isinstance(point, int)  # finite Decimals have an int exponent
        digits = "".join(map(str, digit_tuple))
        return _minor_units("-" if negative else "", digits, point, currency, repr(value))
    if isinstance(value, str):
        text = value.strip()
        match = _DECIMAL_TEXT.fullmatch(text)
        if match is None or not (match[2] or match[3]):
            raise MoneyError(
                f"cannot parse {value!r} as an amount of {currency}:"
                " expected a plain decimal number such as '12.34'"
            )
        sign, whole, frac = match[1], match[2], match[3] or ""
        return _minor_units(sign, whole + frac, -len(frac), currency, repr(value))
    raise MoneyError(
        f"cannot parse {value!r} ({type(value).__name__}) as an amount of {currency}:"
        " expected a decimal string, Decimal or int"
    )


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: ``amount`` minor units of ``currency``.

    ``Money(40994, "USD")`` is $409.94. Immutable and hashable. Arithmetic
    and ordering only mix amounts of the same currency; equality across
    currencies is simply False.
    """

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not _is_int(self.amount):
            raise MoneyError(
                f"amount must be an int number of minor units, got {self.amount!r}"
                f" ({type(self.amount).__name__}) for currency {self.currency!r}"
            )
        code = currency_code(self.currency)
        if code != self.currency:
            # Frozen dataclass: normalising the code needs the object setter.
            object.__setattr__(self, "currency", code)

    # -- construction ---------------------------------------------------------

    @classmethod
    def parse(cls, text: str | int | Decimal, currency: str) -> Money:
        """Parse a decimal amount in major units exactly.

        ``Money.parse("409.94", "USD")`` is 40994 cents; ``"1500.00"`` JPY is
        fine but ``"1500.5"`` JPY is an error, as is anything with more
        decimals than the currency has: nothing is ever rounded. Accepts an
        optional sign and surrounding whitespace; rejects exponents, NaN,
        Infinity and thousands separators. An ``int`` counts major units.
        A ``float`` is always refused.
        """
        code = currency_code(currency)
        return cls(_parse_minor(text, code), code)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Nothing, in ``currency``."""
        return cls(0, currency)

    @classmethod
    def of_minor(cls, amount: int, currency: str) -> Money:
        """``amount`` minor units of ``currency``: the constructor, named for readers."""
        return cls(amount, currency)

    @classmethod
    def sum(cls, items: Iterable[Money], currency: str) -> Money:
        """Total of ``items``, all in ``currency``; zero when there are none.

        The currency is required so that an empty total still has one.
        """
        code = currency_code(currency)
        total = 0
        for item in items:
            if not isinstance(item, Money):
                raise MoneyError(f"cannot sum {item!r} as {code}: not a Money")
            if item.currency != code:
                raise MoneyError(f"cannot sum {item!r} into a {code} total: different currency")
            total += item.amount
        return cls(total, code)

    # -- conversion and display -----------------------------------------------

    def to_decimal(self) -> Decimal:
        """The amount in major units, exactly (``Decimal('409.94')``)."""
        # Built from the digit tuple: Decimal.scaleb() would round to the
        # context precision on very large amounts.
        digits = tuple(int(d) for d in str(abs(self.amount)))
        return Decimal((int(self.amount < 0), digits, -CURRENCY_EXPONENTS[self.currency]))

    def format(self) -> str:
        """Plain decimal string with exactly the currency's decimals.

        "409.94" (USD), "1500" (JPY), "0.500" (KWD), "-3.50" (USD). No
        symbol, no grouping: this is the form channels and APIs exchange,
        and :meth:`parse` reads it back unchanged.
        """
        exp = CURRENCY_EXPONENTS[self.currency]
        sign = "-" if self.amount < 0 else ""
        if exp == 0:
            return f"{sign}{abs(self.amount)}"
        whole, frac = divmod(abs(self.amount), 10**exp)
        return f"{sign}{whole}.{frac:0{exp}d}"

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        return f"Money({self.format()!r}, {self.currency!r})"

    # -- arithmetic -----------------------------------------------------------

    def _same_currency(self, other: Money, verb: str) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"cannot {verb} {self!r} and {other!r}: different currencies")

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "add")
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "subtract")
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.amount), self.currency)

    def __mul__(self, factor: object) -> Money:
        if _is_int(factor):
            return Money(self.amount * factor, self.currency)
        if isinstance(factor, (float, Decimal, bool)):
            # A fractional factor needs a rounding rule, and the caller must
            # choose it; use allocate() to split, or scale the Decimal and
            # parse the rounded result.
            raise MoneyError(
                f"cannot multiply {self!r} by {factor!r}: money multiplies by int only"
            )
        return NotImplemented

    __rmul__ = __mul__

    def __bool__(self) -> bool:
        return self.amount != 0

    # -- ordering -------------------------------------------------------------
    # Written out rather than via dataclass(order=True) or total_ordering so
    # that comparing across currencies raises instead of comparing codes.

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.amount < other.amount

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.amount <= other.amount

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.amount > other.amount

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.amount >= other.amount

    # -- splitting ------------------------------------------------------------

    def allocate(self, weights: Sequence[int]) -> list[Money]:
        """Split this amount in proportion to ``weights``; shares sum exactly to it.

        Largest remainder method: each share gets the floor of its exact
        proportional part, then the minor units left over go one each to the
        shares with the largest fractional parts, earlier index first on ties.
        So every share is within one minor unit of its exact part, the result
        is deterministic, and a zero weight always gets zero. A negative
        amount is split as its absolute value, then negated (a mirror image),
        so refunds split the same way as the charges they reverse.

        ``allocate([1, 1, 1])`` on $1.00 gives $0.34, $0.33, $0.33.
        """
        try:
            weight_list = list(weights)
        except TypeError:
            raise MoneyError(
                f"cannot allocate {self!r} by {weights!r}: weights must be a sequence of ints"
            ) from None
        if not weight_list:
            raise MoneyError(f"cannot allocate {self!r} by {weights!r}: no weights given")
        for weight in weight_list:
            if not _is_int(weight) or weight < 0:
                raise MoneyError(
                    f"cannot allocate {self!r} by {weights!r}:"
                    f" weights must be non-negative ints, got {weight!r}"
                )
        total_weight = sum(weight_list)
        if total_weight == 0:
            raise MoneyError(
                f"cannot allocate {self!r} by {weights!r}: at least one weight must be positive"
            )

        whole = abs(self.amount)
        floors: list[int] = []
        remainders: list[int] = []
        for weight in weight_list:
            share, remainder = divmod(whole * weight, total_weight)
            floors.append(share)
            remainders.append(remainder)
        # The remainders add up to leftover * total_weight and each is below
        # total_weight, so at least leftover + 1 of them are positive when
        # leftover > 0: the units below never land on a zero remainder (and
        # so never on a zero weight).
        leftover = whole - sum(floors)
        by_remainder = sorted(range(len(floors)), key=lambda i: (-remainders[i], i))
        for i in by_remainder[:leftover]:
            floors[i] += 1

        sign = -1 if self.amount < 0 else 1
        return [Money(sign * share, self.currency) for share in floors]

    def split(self, n: int) -> list[Money]:
        """Split into ``n`` near-equal shares (earlier shares get any extra unit)."""
        if not _is_int(n) or n < 1:
            raise MoneyError(f"cannot split {self!r} into {n!r} parts: need a positive int")
        return self.allocate([1] * n)
