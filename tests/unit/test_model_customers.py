"""Customers: ids, segment values, traits, heavy-tailed activity, columns that fit the table."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from sspp_fixtures import model
from sspp_fixtures.errors import ScenarioError

WINDOW = model.Window.ending(datetime(2025, 6, 30), 90)


@pytest.fixture(scope="module")
def pools() -> model.Pools:
    return model.build_pools(11, model.LOCALE_CODES, model.PoolSizes(companies=80, people=80, phones=20))


def test_customer_ids() -> None:
    assert model.customer_id(42) == "cust_000042"
    assert model.customer_id(1_234_567) == "cust_1234567"
    assert model.customer_ids([1, 2]) == ["cust_000001", "cust_000002"]
    assert model.customer_number("cust_000042") == 42
    with pytest.raises(ScenarioError):
        model.customer_id(-1)
    with pytest.raises(ScenarioError):
        model.customer_number("customer-42")


def test_segment_frequencies_follow_shares() -> None:
    segments = model.sample_segments(model.derive_rng(1, "s"), 50_000)
    for segment, share in model.DEFAULT_SEGMENT_SHARES.items():
        assert abs(np.mean(segments == segment) - share) < 0.01


def test_annual_values_are_ordered_by_segment_and_fit_numeric_14_2() -> None:
    rng = model.derive_rng(2, "v")
    segments = model.sample_segments(rng, 30_000)
    values = model.sample_annual_values(rng, segments)
    medians = [np.median(values[segments == s]) for s in ("smb", "mid_market", "enterprise")]
    assert medians[0] < medians[1] < medians[2]
    assert values.min() >= 0
    assert values.max() <= model.ANNUAL_VALUE_LIMIT
    assert np.array_equal(values, np.round(values, 2))


def test_traits_depend_only_on_seed_and_number() -> None:
    whole = model.customer_traits(5, np.arange(1, 1001))
    part = model.customer_traits(5, np.arange(501, 1001))
    assert np.array_equal(whole.segment[500:], part.segment)
    assert np.array_equal(whole.currency[500:], part.currency)
    other = model.customer_traits(6, np.arange(1, 1001))
    assert not np.array_equal(whole.locale, other.locale)
    by_locale = {info.locale: info for info in model.LOCALES}
    columns = zip(whole.locale, whole.country, whole.region, whole.currency, strict=True)
    for locale, country, region, currency in columns:
        info = by_locale[str(locale)]
        assert (info.country, info.region, info.currency) == (country, region, currency)


def test_activity_is_heavy_tailed() -> None:
    weights = model.activity_weights(1000, seed=3)
    assert np.isclose(weights.sum(), 1.0)
    assert np.sort(weights)[::-1][:100].sum() > 0.5
    numbers = model.sample_active_customers(model.derive_rng(3, "a"), 100_000, 1000, seed=3)
    assert numbers.min() >= 1
    assert numbers.max() <= 1000
    counts = np.bincount(numbers, minlength=1001)[1:]
    assert np.sort(counts)[::-1][:100].sum() / counts.sum() > 0.5
    # the sampler and the weights describe the same distribution, customer by customer
    top = np.argsort(weights)[::-1][:20]
    assert np.allclose(counts[top] / counts.sum(), weights[top], rtol=0.15)


def test_customers_fit_the_table_and_precede_the_window(pools: model.Pools) -> None:
    batch = model.sample_customers(model.derive_rng(11, "customers", 0), np.arange(1, 2001), pools, WINDOW, seed=11)
    assert len(batch) == 2000
    limits = model.COLUMN_LIMITS["customers"]
    rows = list(batch.rows())
    for row in rows:
        for column, limit in limits.items():
            value = getattr(row, column)
            assert value is None or len(value) <= limit, (column, value)
        assert len(row.country or "") == 2
        assert row.segment in model.SEGMENTS
        assert row.lifecycle_stage in model.LIFECYCLE_STAGES
        assert row.annual_value is not None
        assert row.annual_value >= 0
        assert row.annual_value.as_tuple().exponent == -2
        assert row.created_at < WINDOW.start
        assert row.created_at <= row.updated_at <= WINDOW.end
        assert row.contact_email is not None
        assert row.contact_email.count("@") == 1
        assert row.contact_email.isascii()
    assert len({row.customer_id for row in rows}) == 2000
    # pools of 80 names per locale, 2000 customers: wrap-around qualifiers keep names distinct
    assert len({row.name for row in rows}) >= 0.99 * len(rows)


def test_company_names_do_not_depend_on_the_batch(pools: model.Pools) -> None:
    locales = np.array(["en_US"] * 400)
    numbers = np.arange(1, 401)
    names, _ = model.company_names(pools, locales, numbers)
    tail, _ = model.company_names(pools, locales[200:], numbers[200:])
    assert names[200:].tolist() == tail.tolist()
    assert len(set(names.tolist())) == 400


def test_customers_are_deterministic(pools: model.Pools) -> None:
    def make(seed: int) -> list[model.Customer]:
        rng = model.derive_rng(seed, "c")
        return list(model.sample_customers(rng, np.arange(1, 200), pools, WINDOW, seed=seed).rows())

    assert make(1) == make(1)
    assert make(1) != make(2)
