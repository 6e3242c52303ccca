"""Customers: ids, segments and values, locales and regions, contacts from the pools, heavy-tailed activity.

A customer's *traits* (segment, locale and what follows from the locale) are a pure function of
(seed, customer number) through :func:`customer_traits`, so an event made in any batch or process can
recompute its customer's currency and segment without the customers table. Everything else is drawn from
the caller's generator.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

import numpy as np
import numpy.typing as npt

from ..errors import ScenarioError
from ._random import affine_permutation, categorical, categorical_from_uniforms, hashed_uniforms
from ._rows import Customer
from ._string_pools import Pools
from ._time import Window, sample_created_at, sample_updated_at, to_datetime
from ._validate import check_positive, check_shares, check_weights
from ._vocab import (
    ACTIVITY_EXPONENT,
    ANNUAL_VALUE_LIMIT,
    ANNUAL_VALUE_PARAMS,
    DEFAULT_INDUSTRY_WEIGHTS,
    DEFAULT_LIFECYCLE_SHARES,
    DEFAULT_LOCALE_SHARES,
    DEFAULT_SEGMENT_SHARES,
    INDUSTRIES,
    LIFECYCLE_STAGES,
    LOCALE_CODES,
    LOCALES,
    SEGMENTS,
    LogNormal,
)

__all__ = [
    "CustomerBatch",
    "CustomerTraits",
    "activity_weights",
    "company_names",
    "customer_id",
    "customer_ids",
    "customer_number",
    "customer_traits",
    "locale_columns",
    "sample_active_customers",
    "sample_annual_values",
    "sample_customers",
    "sample_industries",
    "sample_lifecycle_stages",
    "sample_locales",
    "sample_segments",
]

_ID_PATTERN: Final = re.compile(r"cust_(\d{6,})")
# Added to a company name when a customer number wraps around its locale's pool (round 1, 2, …).
_QUALIFIERS: Final = (
    "Group", "Holdings", "Labs", "Partners", "Systems", "Solutions", "Technologies", "Global", "Digital",
    "Ventures", "Industries", "Networks", "Analytics", "Services", "International", "Studio",
)  # fmt: skip
_LOCALE_INDEX: Final = {code: i for i, code in enumerate(LOCALE_CODES)}
_COUNTRIES: Final = np.array([info.country for info in LOCALES])
_REGIONS: Final = np.array([info.region for info in LOCALES])
_CURRENCIES: Final = np.array([info.currency for info in LOCALES])
_OFFSETS: Final = np.array([info.utc_offset_hours for info in LOCALES], dtype=np.float64)


def customer_id(number: int) -> str:
    """The key of customer ``number`` (>= 0): ``cust_000042``, six digits or more."""
    if isinstance(number, bool) or not isinstance(number, int | np.integer) or number < 0:
        raise ScenarioError(f"customer number: expected an integer >= 0, got {number!r}", field="customer_id")
    return f"cust_{number:06d}"


# 'cust_' and the digits of 0..999, as fixed-width items for a byte-level gather.
_ID_PREFIX: Final = np.frombuffer(b"cust_", dtype="V5")
_THREE_DIGITS: Final = np.frombuffer("".join(f"{i:03d}" for i in range(1000)).encode("ascii"), dtype="V3")
_SIX_DIGIT_ID: Final = np.dtype([("prefix", "V5"), ("high", "V3"), ("low", "V3"), ("end", "V1")])


def customer_ids(numbers: npt.ArrayLike) -> list[str]:
    """:func:`customer_id` of each number.

    Ids below a million are assembled as bytes (prefix, two three-digit groups) and split once: several
    times faster than formatting each; larger numbers are formatted one by one.
    """
    array = np.asarray(numbers, dtype=np.int64).reshape(-1)
    if not array.size:
        return []
    if int(array.min()) < 0:
        raise ScenarioError("customer numbers: expected integers >= 0", field="customer_id")
    small = np.minimum(array, 999_999)
    text = np.empty(len(array), dtype=_SIX_DIGIT_ID)
    text["prefix"] = _ID_PREFIX
    text["high"] = np.take(_THREE_DIGITS, small // 1000)
    text["low"] = np.take(_THREE_DIGITS, small % 1000)
    text["end"] = np.frombuffer(b"\n", dtype="V1")
    ids = text.tobytes().decode("ascii").split("\n")[: len(array)]
    for index in np.flatnonzero(array > 999_999).tolist():
        ids[index] = f"cust_{array[index]:06d}"
    return ids


def customer_number(key: str) -> int:
    """The number in a ``cust_000042`` key (the inverse of :func:`customer_id`)."""
    match = _ID_PATTERN.fullmatch(key)
    if match is None:
        raise ScenarioError(f"customer_id: {key!r} is not of the form cust_000042", field="customer_id", value=key)
    return int(match.group(1))


def _strings(vocabulary: tuple[str, ...], codes: npt.NDArray[np.intp]) -> npt.NDArray[np.str_]:
    return np.asarray(vocabulary)[codes]


def sample_segments(
    rng: np.random.Generator, n: int, shares: Mapping[str, float] = DEFAULT_SEGMENT_SHARES
) -> npt.NDArray[np.str_]:
    """``n`` segments (smb / mid_market / enterprise) drawn with ``shares``."""
    return _strings(SEGMENTS, categorical(rng, n, check_shares("segment_shares", shares, SEGMENTS)))


def sample_industries(
    rng: np.random.Generator, n: int, weights: Mapping[str, float] = DEFAULT_INDUSTRY_WEIGHTS
) -> npt.NDArray[np.str_]:
    """``n`` industries drawn with relative ``weights``."""
    return _strings(INDUSTRIES, categorical(rng, n, check_weights("industry_weights", weights, INDUSTRIES)))


def sample_lifecycle_stages(
    rng: np.random.Generator, n: int, shares: Mapping[str, float] = DEFAULT_LIFECYCLE_SHARES
) -> npt.NDArray[np.str_]:
    """``n`` lifecycle stages (lead, prospect, trial, customer, churned) drawn with ``shares``."""
    return _strings(LIFECYCLE_STAGES, categorical(rng, n, check_shares("lifecycle_shares", shares, LIFECYCLE_STAGES)))


def sample_locales(
    rng: np.random.Generator, n: int, shares: Mapping[str, float] = DEFAULT_LOCALE_SHARES
) -> npt.NDArray[np.str_]:
    """``n`` Faker locales drawn with ``shares``; :func:`locale_columns` gives country, region and currency."""
    return _strings(LOCALE_CODES, categorical(rng, n, check_shares("locale_shares", shares, LOCALE_CODES)))


def _codes(field: str, values: npt.ArrayLike, index: Mapping[str, int]) -> npt.NDArray[np.intp]:
    array = np.asarray(values)
    if array.size == 0:
        return np.zeros(0, dtype=np.intp)
    unique, inverse = np.unique(array.astype(str), return_inverse=True)
    lookup = np.empty(len(unique), dtype=np.intp)
    for i, value in enumerate(unique.tolist()):
        if value not in index:
            raise ScenarioError(
                f"{field}: unknown value {value!r}; allowed: {', '.join(index)}",
                field=field, value=value, allowed=tuple(index),
            )  # fmt: skip
        lookup[i] = index[value]
    return lookup[inverse.reshape(-1)]


def sample_annual_values(
    rng: np.random.Generator,
    segments: npt.ArrayLike,
    params: Mapping[str, LogNormal] = ANNUAL_VALUE_PARAMS,
) -> npt.NDArray[np.float64]:
    """Annual contract value (USD, rounded to cents, within NUMERIC(14, 2), >= 0) per segment: log-normal."""
    codes = _codes("segment", segments, {segment: i for i, segment in enumerate(SEGMENTS)})
    missing = [segment for segment in SEGMENTS if segment not in params]
    if missing:
        raise ScenarioError(
            f"annual_value: no parameters for segment {missing[0]!r}; expected: {', '.join(SEGMENTS)}",
            field="annual_value",
        )
    medians = np.array([check_positive(f"annual_value.{s}.median", params[s].median) for s in SEGMENTS])
    sigmas = np.array([check_positive(f"annual_value.{s}.sigma", params[s].sigma, allow_zero=True) for s in SEGMENTS])
    values = np.exp(np.log(medians[codes]) + sigmas[codes] * rng.standard_normal(len(codes)))
    return np.asarray(np.round(np.clip(values, 0.0, ANNUAL_VALUE_LIMIT), 2), dtype=np.float64)


@dataclass(frozen=True, slots=True, eq=False)
class CustomerTraits:
    """Per-customer columns that follow from the locale, plus the segment; arrays in the numbers' order."""

    segment: npt.NDArray[np.str_]
    locale: npt.NDArray[np.str_]
    country: npt.NDArray[np.str_]
    region: npt.NDArray[np.str_]
    currency: npt.NDArray[np.str_]
    utc_offset: npt.NDArray[np.float64]


def locale_columns(segments: npt.ArrayLike, locales: npt.ArrayLike) -> CustomerTraits:
    """The traits of customers with these segments and locales (country, region, currency, UTC offset)."""
    codes = _codes("locale", locales, _LOCALE_INDEX)
    segment_array = _strings(SEGMENTS, _codes("segment", segments, {s: i for i, s in enumerate(SEGMENTS)}))
    return CustomerTraits(
        segment=segment_array,
        locale=_strings(LOCALE_CODES, codes),
        country=_COUNTRIES[codes],
        region=_REGIONS[codes],
        currency=_CURRENCIES[codes],
        utc_offset=_OFFSETS[codes],
    )


def customer_traits(
    seed: int,
    numbers: npt.ArrayLike,
    *,
    segment_shares: Mapping[str, float] = DEFAULT_SEGMENT_SHARES,
    locale_shares: Mapping[str, float] = DEFAULT_LOCALE_SHARES,
) -> CustomerTraits:
    """Segment and locale of customers ``numbers``: a pure function of (seed, number), in any batch."""
    return traits_of_codes(*trait_codes(seed, numbers, segment_shares=segment_shares, locale_shares=locale_shares))


def trait_codes(
    seed: int,
    numbers: npt.ArrayLike,
    *,
    segment_shares: Mapping[str, float] = DEFAULT_SEGMENT_SHARES,
    locale_shares: Mapping[str, float] = DEFAULT_LOCALE_SHARES,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """:func:`customer_traits` as codes: indices into ``SEGMENTS`` and ``LOCALE_CODES`` (package-internal)."""
    segments = categorical_from_uniforms(
        hashed_uniforms(seed, "customer.segment", numbers), check_shares("segment_shares", segment_shares, SEGMENTS)
    )
    locales = categorical_from_uniforms(
        hashed_uniforms(seed, "customer.locale", numbers), check_shares("locale_shares", locale_shares, LOCALE_CODES)
    )
    return segments, locales


def traits_of_codes(segments: npt.NDArray[np.intp], locales: npt.NDArray[np.intp]) -> CustomerTraits:
    """The traits of segment and locale codes from :func:`trait_codes` (package-internal)."""
    return CustomerTraits(
        segment=_strings(SEGMENTS, segments),
        locale=_strings(LOCALE_CODES, locales),
        country=_COUNTRIES[locales],
        region=_REGIONS[locales],
        currency=_CURRENCIES[locales],
        utc_offset=_OFFSETS[locales],
    )


@functools.lru_cache(maxsize=4096)
def _qualifier(round_: int) -> str:
    if round_ == 0:
        return ""
    word = _QUALIFIERS[(round_ - 1) % len(_QUALIFIERS)]
    cycle = (round_ - 1) // len(_QUALIFIERS)
    return f" {word}" if cycle == 0 else f" {word} {cycle + 1}"


def company_names(
    pools: Pools, locales: npt.ArrayLike, numbers: npt.ArrayLike
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """Company names and domains of customers ``numbers`` in ``locales``, distinct within a locale.

    Customer ``n`` takes entry ``perm(n mod P)`` of its locale's pool of ``P`` names (a seeded permutation),
    qualified on the ``n // P``-th wrap-around ("… Group", "… Labs", …): two customers of one locale share a
    name only if their pool already repeats one, whatever the batch they are made in.
    """
    locale_array = np.asarray(locales).astype(str)
    number_array = np.asarray(numbers, dtype=np.int64)
    names = np.empty(len(number_array), dtype=object)
    domains = np.empty(len(number_array), dtype=object)
    for locale in np.unique(locale_array).tolist():
        pool = pools[locale]
        rows = np.flatnonzero(locale_array == locale)
        size = len(pool.company_names)
        picked = affine_permutation(number_array[rows] % size, size, pools.seed, f"company.{locale}")
        rounds = (number_array[rows] // size).tolist()
        base = pool.company_names[picked].tolist()
        names[rows] = list(map(operator.add, base, map(_qualifier, rounds)))
        domains[rows] = pool.company_domains[picked]
    return names, domains


@dataclass(frozen=True, slots=True, eq=False)
class CustomerBatch:
    """Columns of ``customers`` rows (one array per column, in the numbers' order)."""

    customer_id: list[str]
    name: npt.NDArray[np.object_]
    contact_name: npt.NDArray[np.object_]
    contact_email: npt.NDArray[np.object_]
    phone: npt.NDArray[np.object_]
    industry: npt.NDArray[np.str_]
    segment: npt.NDArray[np.str_]
    region: npt.NDArray[np.str_]
    country: npt.NDArray[np.str_]
    locale: npt.NDArray[np.str_]
    lifecycle_stage: npt.NDArray[np.str_]
    annual_value: npt.NDArray[np.float64]
    created_at: npt.NDArray[np.datetime64]
    updated_at: npt.NDArray[np.datetime64]
    currency: npt.NDArray[np.str_]
    utc_offset: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.customer_id)

    def rows(self) -> Iterator[Customer]:
        """The batch as :class:`Customer` objects."""
        for i in range(len(self)):
            yield Customer(
                customer_id=self.customer_id[i],
                name=str(self.name[i]),
                contact_name=str(self.contact_name[i]),
                contact_email=str(self.contact_email[i]),
                phone=str(self.phone[i]),
                industry=str(self.industry[i]),
                segment=str(self.segment[i]),
                region=str(self.region[i]),
                country=str(self.country[i]),
                locale=str(self.locale[i]),
                lifecycle_stage=str(self.lifecycle_stage[i]),
                annual_value=Decimal(f"{self.annual_value[i]:.2f}"),
                created_at=to_datetime(self.created_at[i]),
                updated_at=to_datetime(self.updated_at[i]),
            )


def sample_customers(
    rng: np.random.Generator,
    numbers: npt.ArrayLike,
    pools: Pools,
    window: Window,
    *,
    seed: int,
    segment_shares: Mapping[str, float] = DEFAULT_SEGMENT_SHARES,
    locale_shares: Mapping[str, float] = DEFAULT_LOCALE_SHARES,
    lifecycle_shares: Mapping[str, float] = DEFAULT_LIFECYCLE_SHARES,
    industry_weights: Mapping[str, float] = DEFAULT_INDUSTRY_WEIGHTS,
    lookback_days: float = 730.0,
) -> CustomerBatch:
    """Customers ``numbers``: traits from (seed, number), the rest from ``rng``, strings from ``pools``.

    Every customer is created before ``window.start``, so before any of its events.
    """
    number_array = np.asarray(numbers, dtype=np.int64)
    n = len(number_array)
    traits = customer_traits(seed, number_array, segment_shares=segment_shares, locale_shares=locale_shares)
    names, domains = company_names(pools, traits.locale, number_array)
    contact_names = np.empty(n, dtype=object)
    emails = np.empty(n, dtype=object)
    phones = np.empty(n, dtype=object)
    for locale in np.unique(traits.locale).tolist():
        pool = pools[locale]
        rows = np.flatnonzero(traits.locale == locale)
        people = rng.integers(0, len(pool.contact_names), size=len(rows))
        contact_names[rows] = pool.contact_names[people]
        locals_ = pool.email_locals[people].tolist()
        emails[rows] = list(map("{}@{}".format, locals_, domains[rows].tolist()))
        phones[rows] = pool.phones[rng.integers(0, len(pool.phones), size=len(rows))]
    created_at = sample_created_at(rng, n, window, lookback_days=lookback_days)
    return CustomerBatch(
        customer_id=customer_ids(number_array),
        name=names,
        contact_name=contact_names,
        contact_email=emails,
        phone=phones,
        industry=sample_industries(rng, n, industry_weights),
        segment=traits.segment,
        region=traits.region,
        country=traits.country,
        locale=traits.locale,
        lifecycle_stage=sample_lifecycle_stages(rng, n, lifecycle_shares),
        annual_value=sample_annual_values(rng, traits.segment),
        created_at=created_at,
        updated_at=sample_updated_at(rng, created_at, window),
        currency=traits.currency,
        utc_offset=traits.utc_offset,
    )


def _check_activity(n_customers: int, exponent: float) -> float:
    if isinstance(n_customers, bool) or not isinstance(n_customers, int) or n_customers < 1:
        raise ScenarioError(f"customers: expected an integer >= 1, got {n_customers!r}", field="customers")
    return check_positive("activity_exponent", exponent)


def _power_cdf(x: npt.NDArray[np.float64], top: float, exponent: float) -> npt.NDArray[np.float64]:
    if abs(exponent - 1.0) < 1e-12:
        return np.asarray(np.log(x) / np.log(top), dtype=np.float64)
    one_minus = 1.0 - exponent
    return np.asarray((np.power(x, one_minus) - 1.0) / (top**one_minus - 1.0), dtype=np.float64)


def activity_weights(
    n_customers: int, *, exponent: float = ACTIVITY_EXPONENT, seed: int = 0
) -> npt.NDArray[np.float64]:
    """Each customer's share of all events (``weights[i]`` is customer number ``i + 1``'s); sums to 1.

    Ranks follow a bounded power law (Zipf-like, density ``x ** -exponent``): a few customers produce most
    events. Which customer holds which rank is a seeded permutation, the same one
    :func:`sample_active_customers` uses.
    """
    exponent = _check_activity(n_customers, exponent)
    ranks = np.arange(n_customers, dtype=np.float64)
    top = float(n_customers + 1)
    by_rank = _power_cdf(ranks + 2.0, top, exponent) - _power_cdf(ranks + 1.0, top, exponent)
    weights = np.empty(n_customers, dtype=np.float64)
    weights[affine_permutation(np.arange(n_customers), n_customers, seed, "activity")] = by_rank
    return np.asarray(weights / weights.sum(), dtype=np.float64)


def sample_active_customers(
    rng: np.random.Generator, n: int, n_customers: int, *, exponent: float = ACTIVITY_EXPONENT, seed: int = 0
) -> npt.NDArray[np.int64]:
    """Customer numbers (1..n_customers) of ``n`` events, distributed as :func:`activity_weights`.

    Inverse-CDF sampling: O(n) time and memory whatever the number of customers.
    """
    exponent = _check_activity(n_customers, exponent)
    top = float(n_customers + 1)
    u = rng.random(n)
    if abs(exponent - 1.0) < 1e-12:
        x = np.power(top, u)
    else:
        one_minus = 1.0 - exponent
        x = np.power(1.0 + u * (top**one_minus - 1.0), 1.0 / one_minus)
    ranks = np.clip(np.floor(x).astype(np.int64) - 1, 0, n_customers - 1)
    return affine_permutation(ranks, n_customers, seed, "activity") + 1
