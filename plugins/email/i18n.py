"""The customer's language: gettext catalogues (Babel) and Babel's money and dates.

The email templates mark their words for translation (``{% trans %}``, ``_()``);
``babel.cfg`` next to this file tells ``pybabel extract`` how to find them, and
each language's catalogue is a ``.po`` file under ``locales/<lang>/LC_MESSAGES/``.
The ``.po`` files are the only form kept: they are compiled in memory the first
time a language is used (Babel's ``write_mo``), so neither a build step nor CI
needs anything but Babel itself.

Which language: the order's (the customer's locale as the channel told it,
``de-DE``), else the channel's default language, else English. The catalogue is
the language's (``de`` for ``de-AT``); money and dates are formatted for the whole
locale (``de_AT`` and ``de_CH`` write amounts differently from ``de_DE``).
"""

from __future__ import annotations

import functools
import gettext
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from io import BytesIO
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from babel.support import Translations

LOCALES_DIR = Path(__file__).parent / "locales"
#: The language written in the templates themselves: no catalogue needed.
SOURCE_LANGUAGE = "en"
DOMAIN = "messages"


def languages() -> tuple[str, ...]:
    """The languages the customer's emails can be written in: English and each catalogue."""
    found = sorted(p.name for p in LOCALES_DIR.iterdir() if (p / "LC_MESSAGES").is_dir())
    return (SOURCE_LANGUAGE, *(lang for lang in found if lang != SOURCE_LANGUAGE))


def catalogue_path(language: str) -> Path:
    return LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The language's compiled catalogue (none for English: the templates' own words)."""
    path = catalogue_path(language)
    if language == SOURCE_LANGUAGE or not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries left out: a guess is not a translation
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def parse_locale(tag: str) -> Locale | None:
    """A BCP 47 tag (``de-DE``, ``de_AT``, ``pt-br``) as a Babel locale; None if unknown."""
    tag = (tag or "").strip().replace("_", "-")
    if not tag:
        return None
    try:
        return Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        try:  # "xx-YY" with a region Babel lacks data for: the language alone
            return Locale.parse(tag.split("-")[0])
        except (UnknownLocaleError, ValueError, TypeError):
            return None


@dataclass(frozen=True)
class Language:
    """The language an email is written in, and the locale its money and dates follow."""

    #: The catalogue's language (``de``).
    code: str
    #: Babel's locale for numbers and dates (``de_DE``).
    locale: Locale
    #: Where it came from: ``order``, ``channel`` or ``fallback``.
    source: str

    def money(self, amount: Any, currency: str) -> str:
        """``"1234.50", "EUR"`` as the customer reads it: ``1.234,50 €`` in German."""
        try:
            value = Decimal(str(amount))
        except (InvalidOperation, ValueError):
            return f"{amount} {currency}".strip()
        return format_currency(value, currency, locale=self.locale)

    def day(self, value: Any) -> str:
        """A day (``"2026-12-20"`` or a date) written out: ``20. Dezember 2026``."""
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value[:10])
            except ValueError:
                return value
        if not isinstance(value, date):
            return str(value or "")
        return format_date(value, format="long", locale=self.locale)


def choose(order_locale: str, channel_default: str = "") -> Language:
    """The order's language if there is a catalogue for it, else the channel's, else English."""
    available = languages()
    for source, tag in (("order", order_locale), ("channel", channel_default)):
        locale = parse_locale(tag)
        if locale is not None and locale.language in available:
            return Language(code=locale.language, locale=locale, source=source)
    return Language(code=SOURCE_LANGUAGE, locale=Locale.parse(SOURCE_LANGUAGE), source="fallback")
