"""Pools of Faker-made strings (companies, contacts, phones), made once per (seed, locale).

The bulk generator samples these pools with NumPy instead of calling Faker per row. A pool depends only on
the seed, the locale, the sizes and the Faker version; :func:`pool_checksum` fingerprints the content so a
golden test notices when a Faker upgrade changes it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Final

import faker
import numpy as np
import numpy.typing as npt

from ..errors import ScenarioError
from ._random import stream_key
from ._rows import COLUMN_LIMITS
from ._validate import check_choice
from ._vocab import LOCALE_CODES, LOCALES

__all__ = ["LocalePool", "PoolSizes", "Pools", "build_pools", "pool_checksum"]

_LIMITS: Final = COLUMN_LIMITS["customers"]
_TLDS: Final = {info.locale: info.tld for info in LOCALES}
_RETRIES: Final = 4
_WORD: Final = re.compile(r"[a-z0-9]+")
# Honorifics and suffixes Faker puts around names in some locales; they do not belong in an email address.
_TITLES: Final = frozenset(
    {"mr", "mrs", "ms", "miss", "dr", "prof", "sr", "sra", "dra", "srta", "pan", "pani", "herr", "frau", "mx",
     "ing", "dipl", "mme", "mlle", "m", "dott", "sig", "a", "jr", "ii", "iii", "iv", "v", "md", "dds", "phd",
     "dvm", "esq", "mba", "rn", "cpa"}
)  # fmt: skip
# Legal forms and fillers in company names; they do not make a memorable domain.
_LEGAL_FORMS: Final = frozenset(
    {"inc", "llc", "ltd", "plc", "pty", "group", "and", "sons", "son", "co", "corp", "gmbh", "ag", "kg", "kgaa",
     "ohg", "ev", "mbh", "stiftung", "sa", "sas", "sarl", "sca", "snc", "srl", "spa", "sl", "sc", "cv", "de",
     "rl", "nv", "bv", "vof", "ab", "hb", "kb", "sp", "zoo", "ltda", "me", "ei", "eireli", "hijos", "e",
     "y", "et", "und", "i", "syn", "fils", "cie", "coop", "scoop"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PoolSizes:
    """How many distinct strings of each kind a locale's pool holds."""

    companies: int = 5000
    people: int = 5000
    phones: int = 2000

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ScenarioError(
                    f"pool_sizes.{field.name}: expected an integer >= 1, got {value!r}",
                    field=f"pool_sizes.{field.name}",
                    value=value,
                )


@dataclass(frozen=True, slots=True, eq=False)
class LocalePool:
    """One locale's strings; parallel arrays (``company_domains[i]`` is ``company_names[i]``'s domain)."""

    locale: str
    company_names: npt.NDArray[np.object_]
    company_domains: npt.NDArray[np.object_]
    contact_names: npt.NDArray[np.object_]
    email_locals: npt.NDArray[np.object_]
    phones: npt.NDArray[np.object_]

    def arrays(self) -> Iterator[tuple[str, npt.NDArray[np.object_]]]:
        """The (name, array) pairs, in a fixed order."""
        for field in fields(self):
            if field.name != "locale":
                yield field.name, getattr(self, field.name)


@dataclass(frozen=True, slots=True, eq=False)
class Pools:
    """The pools of several locales, built by :func:`build_pools`."""

    seed: int
    sizes: PoolSizes
    faker_version: str
    by_locale: Mapping[str, LocalePool]

    @property
    def locales(self) -> tuple[str, ...]:
        """The locales held, in build order."""
        return tuple(self.by_locale)

    def __getitem__(self, locale: str) -> LocalePool:
        try:
            return self.by_locale[locale]
        except KeyError:
            raise ScenarioError(
                f"locale {locale!r} has no pool; built: {', '.join(self.by_locale)}",
                hint="Build the pools with every locale the scenario uses.",
                field="locales",
                value=locale,
            ) from None


# Letters NFKD does not decompose into ASCII.
_FOLD: Final = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "Ae", "ß": "ss", "đ": "d",
                              "Đ": "D", "œ": "oe", "Œ": "Oe", "\u0131": "i"})  # fmt: skip


def _ascii_words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD)).encode("ascii", "ignore").decode().lower()
    return _WORD.findall(folded)


def _email_local(name: str, fake: faker.Faker) -> str:
    words = [word for word in _ascii_words(name) if word not in _TITLES]
    local = f"{words[0]}.{words[-1]}" if len(words) >= 2 else "".join(words)
    if len(local) < 3:  # names in a non-Latin script: Faker's romanised user names
        local = ".".join(_ascii_words(fake.user_name())) or "contact"
    return local[:64]


def _domain(name: str, locale: str, fake: faker.Faker) -> str:
    words = _ascii_words(name)
    label = "-".join([word for word in words if word not in _LEGAL_FORMS and len(word) > 1][:2] or words[:1])
    if len(label) < 3:
        label = "-".join(_ascii_words(fake.domain_word())) or "company"
    return f"{label[:40]}.{_TLDS[locale]}"


def _unique(draw: Callable[[], object], count: int, fake: faker.Faker, limit: int) -> list[str]:
    seen: dict[str, None] = {}
    while len(seen) < count:
        candidate = ""
        for _ in range(_RETRIES):
            candidate = str(draw())[:limit]
            if candidate not in seen:
                break
        else:  # this locale's space is crowded: qualify by a city, then by a number
            base = candidate
            candidate = f"{base} ({fake.city()})"[:limit]
            number = 2
            while candidate in seen:
                candidate = f"{base} ({number})"[:limit]
                number += 1
        seen[candidate] = None
    return list(seen)


def _frozen(values: list[str]) -> npt.NDArray[np.object_]:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    array.flags.writeable = False
    return array


def _locale_pool(seed: int, locale: str, sizes: PoolSizes) -> LocalePool:
    fake = faker.Faker(locale, use_weighting=False)
    fake.seed_instance(stream_key(seed, "pools", locale))
    companies = _unique(fake.company, sizes.companies, fake, _LIMITS["name"])
    domains = [_domain(name, locale, fake) for name in companies]
    people = [fake.name()[: _LIMITS["contact_name"]] for _ in range(sizes.people)]
    email_locals = [_email_local(name, fake) for name in people]
    phones: list[str] = []
    while len(phones) < sizes.phones:
        phone = fake.phone_number()
        if len(phone) <= _LIMITS["phone"]:
            phones.append(phone)
    return LocalePool(
        locale=locale,
        company_names=_frozen(companies),
        company_domains=_frozen(domains),
        contact_names=_frozen(people),
        email_locals=_frozen(email_locals),
        phones=_frozen(phones),
    )


def build_pools(seed: int, locales: Sequence[str] = LOCALE_CODES, sizes: PoolSizes | None = None) -> Pools:
    """Make the pools of ``locales`` with a dedicated, seeded Faker per locale (never the global one).

    Company names are distinct within a locale: a repeated draw is retried, then qualified by a city.
    The result depends only on (seed, locale, sizes) and the Faker version.
    """
    sizes = sizes or PoolSizes()
    stream_key(seed)  # validates the seed
    if isinstance(locales, str):
        locales = (locales,)
    if not locales:
        raise ScenarioError("locales: expected at least one locale", field="locales")
    for locale in locales:
        check_choice("locales", locale, LOCALE_CODES)
    by_locale = {locale: _locale_pool(seed, locale, sizes) for locale in dict.fromkeys(locales)}
    return Pools(seed=seed, sizes=sizes, faker_version=faker.VERSION, by_locale=MappingProxyType(by_locale))


def pool_checksum(pools: Pools) -> str:
    """The SHA-256 (hex) of the pools' content: seed, sizes, locales and every string, in order."""
    digest = hashlib.sha256()
    digest.update(f"seed={pools.seed};sizes={pools.sizes!r}\n".encode())
    for locale, pool in pools.by_locale.items():
        for name, array in pool.arrays():
            digest.update(f"{locale}.{name}:{len(array)}\n".encode())
            digest.update("\x1e".join(array.tolist()).encode())
            digest.update(b"\n")
    return digest.hexdigest()
