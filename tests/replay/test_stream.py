"""What replay sends, without any server: the order (external sort), the bodies, invalid events, time shifts, pace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sspp_fixtures.replay import INVALID_KINDS, Pacer, ReplayEvent, StreamPlan, batch_size, sent_events, sort_events
from sspp_fixtures.replay._events import event_body, iso_millis
from tests.replay._api_server import validate
from tests.replay._events import START_MS, make_batches


def _plain_sort(batches) -> list[tuple[int, int]]:
    keys = []
    for batch in batches:
        keys += zip(batch.timestamp.astype("int64").tolist(), batch.index.tolist(), strict=True)
    return sorted(keys)


@pytest.mark.parametrize(("run_events", "fan_in"), [(10**6, 8), (700, 64), (300, 3)])  # memory, one merge, passes
def test_events_come_in_time_then_index_order_however_they_are_spooled(tmp_path: Path, run_events, fan_in) -> None:
    batches = make_batches(5000, per_batch=250, span_ms=60_000)  # many ties in the same millisecond
    with sort_events(batches, spool_dir=tmp_path, run_events=run_events, fan_in=fan_in, block_events=64) as events:
        assert events.count == 5000
        got = list(events)
        assert [(e.time_ms, e.position) for e in got] == _plain_sort(batches)
        assert (events.first_ms, events.last_ms) == (got[0].time_ms, got[-1].time_ms)
        spooled = list(tmp_path.rglob("*.run"))
        assert (len(spooled) > 0) == (run_events < 5000)
        assert len(spooled) <= fan_in
    assert list(tmp_path.iterdir()) == []  # the spool is gone


def test_an_event_keeps_its_fields_with_its_time() -> None:
    batches = make_batches(600, per_batch=100)
    rows = {}
    for b in batches:
        for i, position in enumerate(b.index.tolist()):
            rows[position] = (b.account_id[i], b.user_id[i], b.event_type[i], b.metadata[i])
    with sort_events(batches, run_events=150, fan_in=2) as events:
        for event in events:
            assert rows[event.position] == (event.account_id, event.user_id, event.event_type, event.metadata)


def test_the_body_is_the_apis_json_in_its_field_order() -> None:
    body = event_body("acc_ü", 'user"1', "email_sent", "2026-06-30T10:00:00.000Z", '{"campaign":"Ünï"}')
    assert list(json.loads(body)) == ["accountId", "userId", "eventType", "timestamp", "metadata"]
    assert "Ünï" in body
    assert "acc_ü" in body
    assert json.loads(body)["userId"] == 'user"1'
    assert iso_millis(START_MS + 7) == "2026-05-28T20:26:40.007Z"
    assert validate(json.loads(body)) == []


def _events(n: int = 4000) -> list[ReplayEvent]:
    with sort_events(make_batches(n)) as events:
        return list(events)


def test_the_same_plan_sends_the_same_bytes_and_the_same_invalid_events() -> None:
    events = _events()
    plan = StreamPlan(seed=5, invalid_share=0.1)
    first = list(sent_events(events, plan))
    assert first == list(sent_events(events, plan))
    other = list(sent_events(events, StreamPlan(seed=6, invalid_share=0.1)))
    assert [e.seq for e in first if e.invalid] != [e.seq for e in other if e.invalid]


def test_invalid_events_are_labelled_and_each_kind_is_one_the_api_rejects() -> None:
    sent = list(sent_events(_events(), StreamPlan(seed=5, invalid_share=0.25)))
    invalid = [e for e in sent if e.invalid]
    assert 0.22 < len(invalid) / len(sent) < 0.28
    assert {e.invalid for e in invalid} == set(INVALID_KINDS)
    for event in sent:
        problems = validate(json.loads(event.body))
        assert bool(problems) == (event.invalid is not None), (event, problems)
    assert all(validate(json.loads(e.body)) == [] for e in sent_events(_events(), StreamPlan(seed=5)))


def test_time_now_shifts_every_event_by_one_amount_and_count_bounds_the_run() -> None:
    events = _events(1000)
    plain = list(sent_events(events, StreamPlan(seed=1, limit=100)))
    shifted = list(sent_events(events, StreamPlan(seed=1, shift_ms=3_600_000, limit=100)))
    assert len(plain) == len(shifted) == 100
    for a, b in zip(plain, shifted, strict=True):
        assert b.time_ms - a.time_ms == 3_600_000
        assert json.loads(b.body)["timestamp"] == iso_millis(a.time_ms + 3_600_000)


class _FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds + 0.0003  # the OS oversleeps a little


@pytest.mark.parametrize("rate", [100, 1000, 10_000])
def test_the_token_bucket_holds_a_rate_over_a_minute_within_one_percent(rate: int) -> None:
    clock = _FakeClock()
    pacer = Pacer(rate=rate, clock=clock, sleep=clock.sleep)
    start = pacer.start()
    size, sent = batch_size(rate), 0
    while clock.now - start < 60:
        pacer.wait_for(size, 0)
        sent += size
        clock.now += 0.00005 * size  # sending costs time too
    assert abs(sent / (clock.now - start) / rate - 1) < 0.01


def test_a_long_stall_is_made_up_by_one_second_of_events_at_most() -> None:
    clock = _FakeClock()
    pacer = Pacer(rate=1000, clock=clock, sleep=clock.sleep)
    pacer.start()
    pacer.wait_for(10, 0)
    clock.now += 5  # the sink stalled for 5 s
    before = clock.now
    for _ in range(300):
        pacer.wait_for(10, 0)  # 3,000 events: 1,000 on credit at once, then 2,000 at the rate
    assert 1.98 <= clock.now - before < 2.1


def test_speed_follows_the_scenarios_clock_faster() -> None:
    clock = _FakeClock()
    pacer = Pacer(speed=60, clock=clock, sleep=clock.sleep)
    start = pacer.start()
    pacer.wait_for(1, START_MS)
    pacer.wait_for(1, START_MS + 3_600_000)  # an hour later in the scenario: a minute later here
    assert 60 <= clock.now - start < 60.01


def test_one_event_and_none_sort_too() -> None:
    (one,) = make_batches(1)
    with sort_events([one]) as events:
        assert [e.account_id for e in events] == one.account_id
    with sort_events([]) as events:
        assert (events.count, list(events), events.last_ms) == (0, [], None)
