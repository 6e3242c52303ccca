"""Chunks of rows, as text columns, from a scenario: the bulk generator's unit of work.

The data is cut into chunks of :data:`CHUNK_ROWS` rows. Chunk ``k`` of a table depends only on
(scenario, seed, table, k): chunks can be made in any order, by any number of processes, grouped into
batches of any size, and the data stays byte-identical. Stories (scripted customers) form one extra chunk.
A ``sales_signals`` row takes its id from its event's place (event ``i`` of the scenario, from 0, has id
``i + 1``; the stories' events come after all of them): ids never depend on how chunks were grouped or ordered.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import compress
from typing import Any

import numpy as np
import numpy.typing as npt

from ..model import (
    CUSTOMER_COLUMNS,
    EVENT_COLUMNS,
    LOCALES,
    PLATFORM_SIGNAL_TYPES,
    SALES_SIGNAL_COLUMNS,
    SEGMENTS,
    SIGNAL_COLUMNS,
    EventBatch,
    Pools,
    Window,
    account_teams,
    derive_rng,
    derive_signal_data,
    locale_columns,
    make_payload,
    milliseconds,
    platform_signal,
    sample_annual_values,
    sample_created_at,
    sample_customers,
    sample_events,
    sample_industries,
    sample_processing_lag,
    sample_updated_at,
    sample_uuids,
    score_text,
    story_account_number,
    to_milliseconds,
    user_count,
    user_ids,
)
from ..scenarios import Scenario, Story

__all__ = ["CHUNK_ROWS", "ChunkMaker", "Columns", "PlatformEvents", "chunk_count", "timestamp_bytes"]

#: Rows per chunk. Part of the data's identity: changing it changes the data of every seed.
CHUNK_ROWS = 10_000

Value = str | None


@dataclass(frozen=True)
class Columns:
    """One chunk of one table: every value as text (``None`` is SQL NULL); the chunk maker's timestamp columns
    make theirs when first read (see ``times``)."""

    table: str
    values: Mapping[str, list[Value]]
    rows: int
    #: Columns made so that they never hold NULL nor a character COPY text escapes: formatters need not look.
    clean: frozenset[str] = frozenset()
    #: Timestamp columns as the ``datetime64`` values their text was made from (``NaT`` where NULL), where the
    #: chunk maker has them: a typed output (Parquet) takes them instead of parsing the text back.
    times: Mapping[str, npt.NDArray[np.datetime64]] = field(default_factory=dict)

    @classmethod
    def empty(cls, table: str, columns: tuple[str, ...]) -> Columns:
        return cls(table, {column: [] for column in columns}, 0)


class _Values(Mapping[str, list[Value]]):
    """A chunk maker's columns by name, its timestamp columns held as ``datetime64`` values and made text only
    when first read: a Parquet export takes the values instead and never pays for the text (0.22 us a row on
    load-100k). Columns given the same array share one list of text."""

    def __init__(self, columns: dict[str, list[Value] | npt.NDArray[np.datetime64]]) -> None:
        self._columns = columns
        self._texts: dict[int, list[Value]] = {}

    def __getitem__(self, name: str) -> list[Value]:
        column = self._columns[name]
        if isinstance(column, list):
            return column
        if id(column) not in self._texts:
            self._texts[id(column)] = _timestamps(column)
        return self._texts[id(column)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)


# Columns the chunk maker builds from digits, fixed vocabularies and timestamps only (a test checks the
# vocabularies); the rest (pool strings, JSON, stories) is checked by the formatter.
_CLEAN: dict[str, frozenset[str]] = {
    "customers": frozenset(
        {"customer_id", "industry", "segment", "region", "country", "locale", "lifecycle_stage", "annual_value",
         "created_at", "updated_at"}
    ),
    "events": frozenset({"id", "event_type", "customer_id", "source", "received_at"}),
    "signals": frozenset({"id", "event_type", "customer_id", "processed_at", "created_at", "event_id"}),
    "sales_signals": frozenset(
        {"id", "account_id", "user_id", "event_type", "signal_type", "signal_score", "timestamp", "processed_at",
         "created_at", "updated_at"}
    ),
}  # fmt: skip


@dataclass(frozen=True)
class PlatformEvents:
    """Events of the platform's six types as its API receives them (``{accountId, userId, eventType, timestamp,
    metadata}``), processed or not: what a replay sends. Fields are parallel columns.

    ``timestamp`` is naive UTC to the millisecond; ``metadata`` is JSON object text; ``index`` is the event's place
    in the scenario from 0 (unique; the stories' come after every generated event): a processed event's
    ``sales_signals`` row has id ``index + 1``.
    """

    account_id: list[str]
    user_id: list[str]
    event_type: list[str]
    timestamp: npt.NDArray[np.datetime64]
    metadata: list[str]
    index: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.account_id)


def chunk_count(rows: int) -> int:
    return math.ceil(rows / CHUNK_ROWS) if rows > 0 else 0


_US_PER_DAY = 86_400_000_000
_US_PER_SECOND = 1_000_000
_SECONDS_PER_DAY = 86_400
_STAMP = np.dtype([("date", "V11"), ("time", "V9"), ("milli", "V3"), ("micro", "V3"), ("end", "V1")])
_STAMP_TEXT = 26  # 'YYYY-MM-DDTHH:MM:SS.ffffff', a _STAMP without its newline


def _civil(days: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], ...]:
    """Year, month, day of days since 1970-01-01 (Howard Hinnant's days_from_civil, inverted; proleptic Gregorian)."""
    z = days + 719_468
    era = np.floor_divide(z, 146_097)
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    return yoe + era * 400 + (month <= 2), month, day


_TWO_DIGITS = np.frombuffer("".join(f"{i:02d}" for i in range(100)).encode("ascii"), dtype="V2")
_THREE_DIGITS = np.frombuffer("".join(f"{i:03d}" for i in range(1000)).encode("ascii"), dtype="V3")
_DATE_FIELDS = np.dtype(
    [("century", "V2"), ("year", "V2"), ("dash1", "V1"), ("month", "V2"), ("dash2", "V1"), ("day", "V2"), ("t", "V1")]
)
_CLOCK_FIELDS = np.dtype(
    [("hour", "V2"), ("colon1", "V1"), ("minute", "V2"), ("colon2", "V1"), ("second", "V2"), ("dot", "V1")]
)


def _clock() -> npt.NDArray[np.void]:
    """'HH:MM:SS.' of each second of a day (0 to 86,399), one ``V9`` item each."""
    clock = np.empty(_SECONDS_PER_DAY, dtype=_CLOCK_FIELDS)
    clock["hour"] = np.repeat(_TWO_DIGITS[:24], 3600)
    clock["minute"] = np.tile(np.repeat(_TWO_DIGITS[:60], 60), 24)
    clock["second"] = np.tile(_TWO_DIGITS[:60], 24 * 60)
    clock["colon1"] = clock["colon2"] = np.frombuffer(b":", dtype="V1")
    clock["dot"] = np.frombuffer(b".", dtype="V1")
    return clock.view("V9")


_CLOCK = _clock()
_NEWLINE = np.frombuffer(b"\n", dtype="V1")


def _dates(first: int, last: int) -> npt.NDArray[np.void]:
    """'YYYY-MM-DDT' of each day from ``first`` to ``last`` (days since 1970-01-01), one ``V11`` item each."""
    year, month, day = _civil(np.arange(first, last + 1, dtype=np.int64))
    dates = np.empty(len(year), dtype=_DATE_FIELDS)
    dates["century"] = _TWO_DIGITS[year // 100]
    dates["year"] = _TWO_DIGITS[year % 100]
    dates["month"] = _TWO_DIGITS[month]
    dates["day"] = _TWO_DIGITS[day]
    dates["dash1"] = dates["dash2"] = np.frombuffer(b"-", dtype="V1")
    dates["t"] = np.frombuffer(b"T", dtype="V1")
    return dates.view("V11")


def _timestamps(values: npt.NDArray[np.datetime64]) -> list[Value]:
    """``datetime64`` to PostgreSQL timestamp text (``NaT`` becomes NULL): :func:`timestamp_bytes`' records,
    split once."""
    if len(values) == 0:
        return []
    text, missing = _stamp_records(values)
    result: list[Value] = list(text.tobytes().decode("ascii").split("\n")[: len(values)])
    if missing.any():
        for index in np.flatnonzero(missing).tolist():
            result[index] = None
    return result


def timestamp_bytes(values: npt.NDArray[np.datetime64]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]:
    """The PostgreSQL timestamp text of each value as one row of 26 ASCII bytes (the same text the chunks
    hold), and where the values are ``NaT`` (their rows are then any time: NULL)."""
    if len(values) == 0:
        return np.empty((0, _STAMP_TEXT), dtype=np.uint8), np.zeros(0, dtype=np.bool_)
    text, missing = _stamp_records(values)
    return np.ascontiguousarray(text.view(np.uint8).reshape(len(values), -1)[:, :_STAMP_TEXT]), missing


def _stamp_records(values: npt.NDArray[np.datetime64]) -> tuple[npt.NDArray[np.void], npt.NDArray[np.bool_]]:
    """One ``_STAMP`` record (text and newline) per value, and where the values are ``NaT``.

    Each field is gathered from a table of its texts (dates of the few days present, the 86,400 times of
    day, three-digit groups of the fraction) into one byte array: far faster than ``numpy.datetime_as_string``
    or formatting each value. Years 1..9999 only (as PostgreSQL's input and the window allow).
    """
    missing = np.isnat(values)
    micros = values.astype("datetime64[us]").astype(np.int64)
    if missing.any():  # NULL rows: any time present will do (a made-up 1970 would stretch the table of dates)
        micros = np.where(missing, 0 if missing.all() else micros[~missing][0], micros)
    days = np.floor_divide(micros, _US_PER_DAY)
    seconds, fraction = np.divmod(micros - days * _US_PER_DAY, _US_PER_SECOND)
    first = int(days.min())
    text = np.empty(len(values), dtype=_STAMP)
    text["date"] = _dates(first, int(days.max()))[days - first]
    text["time"] = _CLOCK[seconds]
    text["milli"] = _THREE_DIGITS[fraction // 1000]
    text["micro"] = _THREE_DIGITS[fraction % 1000]
    text["end"] = _NEWLINE
    return text, missing


def _strings(values: npt.NDArray[Any] | list[str]) -> list[Value]:
    return values if isinstance(values, list) else values.tolist()  # type: ignore[return-value]


def _amounts(values: npt.NDArray[np.float64]) -> list[Value]:
    return list(map("{:.2f}".format, values.tolist()))


@dataclass
class ChunkMaker:
    """Makes the chunks of one scenario (in whichever process holds it)."""

    scenario: Scenario
    pools: Pools
    window: Window = field(init=False)
    _mix: dict[str, float] = field(init=False)

    def __post_init__(self) -> None:
        self.window = Window(self.scenario.window_start, self.scenario.window_end)
        total = sum(self.scenario.event_mix.values())
        self._mix = {name: weight / total for name, weight in self.scenario.event_mix.items()}

    def customers(self, k: int) -> Columns:
        """Customers ``k * CHUNK_ROWS + 1`` onwards (ids ``cust_…`` numbered from 1)."""
        s = self.scenario
        first = k * CHUNK_ROWS + 1
        last = min((k + 1) * CHUNK_ROWS, s.customers)
        numbers = np.arange(first, last + 1, dtype=np.int64)
        batch = sample_customers(
            derive_rng(s.seed, "customers", k),
            numbers,
            self.pools,
            self.window,
            seed=s.seed,
            segment_shares=s.segment_shares,
            locale_shares=s.locale_shares,
        )
        values: dict[str, list[Value] | npt.NDArray[np.datetime64]] = {
            "customer_id": _strings(batch.customer_id),
            "name": _strings(batch.name),
            "contact_name": _strings(batch.contact_name),
            "contact_email": _strings(batch.contact_email),
            "phone": _strings(batch.phone),
            "industry": _strings(batch.industry),
            "segment": _strings(batch.segment),
            "region": _strings(batch.region),
            "country": _strings(batch.country),
            "locale": _strings(batch.locale),
            "lifecycle_stage": _strings(batch.lifecycle_stage),
            "annual_value": _amounts(batch.annual_value),
            "created_at": batch.created_at,
            "updated_at": batch.updated_at,
        }
        times = {"created_at": batch.created_at, "updated_at": batch.updated_at}
        return Columns("customers", _Values(values), len(numbers), clean=_CLEAN["customers"], times=times)

    def events(self, k: int) -> tuple[Columns, Columns, Columns]:
        """Events ``k * CHUNK_ROWS`` onwards, the signals of the processed ones and their ``sales_signals``."""
        n = min(CHUNK_ROWS, self.scenario.events - k * CHUNK_ROWS)
        batch = self._event_batch(k, n)
        event_types = _strings(batch.event_type)
        events = Columns(
            "events",
            _Values(
                {
                    "id": _strings(batch.id),
                    "event_type": event_types,
                    "customer_id": _strings(batch.customer_id),
                    "payload": _strings(batch.payload),
                    "source": _strings(batch.source),
                    "received_at": batch.received_at,
                    "user_id": batch.user_id,
                }
            ),
            n,
            clean=_CLEAN["events"],
            times={"received_at": batch.received_at},
        )
        done = batch.processed
        mask = done.tolist()
        processed_at, signal_created_at = batch.processed_at[done], batch.signal_created_at[done]
        signals = Columns(
            "signals",
            _Values(
                {
                    "id": list(compress(batch.signal_id, mask)),
                    "event_type": list(compress(event_types, mask)),
                    "customer_id": list(compress(batch.customer_id, mask)),
                    "signal_data": list(compress(batch.signal_data, mask)),
                    "processed_at": processed_at,
                    "created_at": signal_created_at,
                    "event_id": list(compress(batch.id, mask)),
                }
            ),
            int(np.count_nonzero(done)),
            clean=_CLEAN["signals"],
            times={"processed_at": processed_at, "created_at": signal_created_at},
        )
        live = done & batch.platform
        rows = np.flatnonzero(live)
        pick = live.tolist()
        received_at, sales_processed_at = batch.received_at[live], milliseconds(batch.processed_at[live])
        created_at = batch.signal_created_at[live]
        sales = Columns(
            "sales_signals",
            _Values(
                {
                    "id": list(map(str, (rows + k * CHUNK_ROWS + 1).tolist())),
                    "account_id": list(compress(batch.customer_id, pick)),
                    "user_id": list(compress(batch.user_id, pick)),
                    "event_type": list(compress(event_types, pick)),
                    "signal_type": [PLATFORM_SIGNAL_TYPES[str(t)] for t in compress(event_types, pick)],
                    "signal_score": _scores(batch.signal_score[live]),
                    "timestamp": received_at,
                    "processed_at": sales_processed_at,
                    "metadata": list(compress(batch.payload, pick)),
                    "created_at": created_at,
                    "updated_at": created_at,
                }
            ),
            len(rows),
            clean=_CLEAN["sales_signals"],
            times={
                "timestamp": received_at,
                "processed_at": sales_processed_at,
                "created_at": created_at,
                "updated_at": created_at,
            },
        )
        return events, signals, sales

    def _event_batch(self, k: int, n: int) -> EventBatch:
        s = self.scenario
        return sample_events(
            derive_rng(s.seed, "events", k),
            n,
            self.window,
            seed=s.seed,
            n_customers=s.customers,
            mix=self._mix,
            segment_shares=s.segment_shares,
            locale_shares=s.locale_shares,
            activity_exponent=s.activity_skew,
            trend=s.trend,
            unprocessed_share=1.0 - s.processed_share,
        )

    def platform_events(self, k: int) -> PlatformEvents:
        """The events of the platform's six types among events ``k * CHUNK_ROWS`` onwards (the same events
        :meth:`events` makes, processed or not)."""
        s = self.scenario
        n = min(CHUNK_ROWS, s.events - k * CHUNK_ROWS)
        batch = self._event_batch(k, n)
        rows = np.flatnonzero(batch.platform)
        pick = batch.platform.tolist()
        return PlatformEvents(
            account_id=list(compress(batch.customer_id, pick)),
            user_id=[str(user) for user in compress(batch.user_id, pick)],
            event_type=[str(t) for t in batch.event_type[batch.platform].tolist()],
            timestamp=batch.received_at[batch.platform].astype("datetime64[ms]"),
            metadata=list(compress(batch.payload, pick)),
            index=(rows + k * CHUNK_ROWS).astype(np.int64),
        )

    def story_platform_events(self) -> PlatformEvents:
        """The stories' events of the platform's six types (as :meth:`stories` makes them)."""
        _, events, _, _ = self.stories()
        v = events.values
        first = self.scenario.events
        rows = [i for i, event_type in enumerate(v["event_type"]) if event_type in PLATFORM_SIGNAL_TYPES]
        return PlatformEvents(
            account_id=[str(v["customer_id"][i]) for i in rows],
            user_id=[str(v["user_id"][i]) for i in rows],
            event_type=[str(v["event_type"][i]) for i in rows],
            timestamp=np.array([str(v["received_at"][i]) for i in rows], dtype="datetime64[ms]"),
            metadata=[str(v["payload"][i]) for i in rows],
            index=np.array([first + i for i in rows], dtype=np.int64),
        )

    def stories(self) -> tuple[Columns, Columns, Columns, Columns]:
        """The scripted customers, their events, the signals of the processed ones and their ``sales_signals``."""
        s = self.scenario
        rng = derive_rng(s.seed, "stories")
        customers: dict[str, list[Value]] = {c: [] for c in _CUSTOMER_FIELDS}
        out = _StoryRows(
            {c: [] for c in _EVENT_FIELDS}, {c: [] for c in _SIGNAL_FIELDS}, {c: [] for c in SALES_SIGNAL_COLUMNS}
        )
        for story in s.stories:
            currency = self._story_customer(story, rng, customers)
            self._story_events(story, currency, rng, out)
        return (
            Columns("customers", customers, len(customers["customer_id"])),
            Columns("events", out.events, len(out.events["id"])),
            Columns("signals", out.signals, len(out.signals["id"])),
            Columns("sales_signals", out.sales, len(out.sales["id"])),
        )

    def _story_customer(self, story: Story, rng: np.random.Generator, out: dict[str, list[Value]]) -> str:
        spec = story.customer
        traits = locale_columns([spec.segment], [spec.locale])
        pool = self.pools[spec.locale] if spec.locale in self.pools.locales else None
        pick = int(rng.integers(0, 1 << 30))
        contact = spec.contact_name or (str(pool.contact_names[pick % len(pool.contact_names)]) if pool else None)
        domain = re.sub(r"[^a-z0-9]+", "-", spec.name.lower()).strip("-")[:40] or "customer"
        tld = next(info.tld for info in LOCALES if info.locale == spec.locale)
        email = spec.contact_email or (
            f"{pool.email_locals[pick % len(pool.email_locals)]!s}@{domain}.{tld}" if pool else None
        )
        phone = str(pool.phones[pick % len(pool.phones)]) if pool else None
        created = sample_created_at(rng, 1, self.window)
        row: dict[str, Value] = {
            "customer_id": spec.customer_id,
            "name": spec.name,
            "contact_name": contact,
            "contact_email": email,
            "phone": phone,
            "industry": spec.industry or str(sample_industries(rng, 1)[0]),
            "segment": spec.segment,
            "region": str(traits.region[0]),
            "country": str(traits.country[0]),
            "locale": spec.locale,
            "lifecycle_stage": spec.lifecycle_stage or "customer",
            "annual_value": _amounts(sample_annual_values(rng, traits.segment))[0],
            "created_at": _timestamps(created)[0],
            "updated_at": _timestamps(sample_updated_at(rng, created, self.window))[0],
        }
        for column, value in row.items():
            out[column].append(value)
        return str(traits.currency[0])

    def _story_events(self, story: Story, currency: str, rng: np.random.Generator, out: _StoryRows) -> None:
        spec = story.customer
        account = story_account_number(spec.customer_id)
        owner, team = account_teams(
            self.scenario.seed, [account], np.array([SEGMENTS.index(spec.segment)]), user_count(self.scenario.customers)
        )
        events, signals, sales = out.events, out.signals, out.sales
        for scripted in story.events:
            platform = scripted.type in PLATFORM_SIGNAL_TYPES
            for received in scripted.timestamps(self.window.start):
                payload = make_payload(scripted.type, rng, segment=spec.segment, currency=currency)
                payload.update(scripted.payload)
                event_id, signal_id = sample_uuids(rng, 2)
                user = user_ids([owner[0] + int(rng.integers(0, team[0])) if platform else 0])[0]
                metadata = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
                events["id"].append(event_id)
                events["event_type"].append(scripted.type)
                events["customer_id"].append(spec.customer_id)
                events["payload"].append(metadata)
                events["source"].append("api")
                events["received_at"].append(_text_time(received))
                events["user_id"].append(user)
                lag = sample_processing_lag(rng, 1)[0].astype("timedelta64[us]").astype(int)
                processed_at = received + timedelta(microseconds=int(lag))
                created_at = processed_at + timedelta(milliseconds=int(rng.integers(1, 50)))
                if not scripted.processed or created_at >= self.window.end:
                    continue
                signal = derive_signal_data(scripted.type, payload)
                signals["id"].append(signal_id)
                signals["event_type"].append(scripted.type)
                signals["customer_id"].append(spec.customer_id)
                signals["signal_data"].append(json.dumps(signal, ensure_ascii=False, separators=(",", ":")))
                signals["processed_at"].append(_text_time(processed_at))
                signals["created_at"].append(_text_time(created_at))
                signals["event_id"].append(event_id)
                if platform:
                    signal_type, score = platform_signal(scripted.type, payload)
                    sales["id"].append(str(self.scenario.events + len(events["id"])))  # its event's place + 1
                    sales["account_id"].append(spec.customer_id)
                    sales["user_id"].append(user)
                    sales["event_type"].append(scripted.type)
                    sales["signal_type"].append(signal_type)
                    sales["signal_score"].append(score_text(score))
                    sales["timestamp"].append(_text_time(received))
                    sales["processed_at"].append(_text_time(to_milliseconds(processed_at)))
                    sales["metadata"].append(metadata)
                    sales["created_at"].append(_text_time(created_at))
                    sales["updated_at"].append(_text_time(created_at))


@dataclass(frozen=True)
class _StoryRows:
    """The stories' rows as they are made, per table."""

    events: dict[str, list[Value]]
    signals: dict[str, list[Value]]
    sales: dict[str, list[Value]]


def _scores(values: npt.NDArray[np.float64]) -> list[Value]:
    """``DECIMAL(3, 2)`` text of each score (the scores are already the worker's two-decimal values)."""
    return list(map("{:.2f}".format, values.tolist()))


def _text_time(value: datetime) -> str:
    return value.isoformat(timespec="microseconds")


_CUSTOMER_FIELDS = CUSTOMER_COLUMNS
_EVENT_FIELDS = EVENT_COLUMNS
_SIGNAL_FIELDS = SIGNAL_COLUMNS
