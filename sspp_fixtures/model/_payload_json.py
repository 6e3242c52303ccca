"""Payloads and signals as JSON text, for COPY: the bulk generator's fast path, with no ``json.dumps`` per row.

Each event type has a template with a slot per field; a drawn column is rendered once as the JSON text of each
of its values (a lookup for vocabulary words, small integers and 3-decimal scores) and the rows are filled in
with ``%``. The text is exactly what ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` gives
for the dicts of :func:`~._payload_draws.make_payloads` and :func:`~._signal_rules.derive_signal_data`: a
test holds them to it.
"""

from __future__ import annotations

import functools
import json.encoder
from collections.abc import Mapping, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from ._payload_draws import Array, Group, draw_coded, draw_groups
from ._payload_vocab import LOCALE_CURRENCY, WORDS, objects
from ._signal_rules import ACTIONS, PRIORITIES, SIGNAL_EVENT_FIELDS, SIGNAL_MODEL, SIGNALS, priorities, signal_arrays
from ._vocab import EVENT_TYPE_NAMES, OPTIONAL_PAYLOAD_FIELDS, PAYLOAD_SCHEMAS

__all__ = ["make_payloads_and_signals_json", "make_payloads_json", "payloads_signals_and_scores_of_codes"]

_encode: Final = json.encoder.encode_basestring
#: JSON text of every vocabulary word: rendering a drawn word is a lookup.
_JSON_TEXT: Final = {word: _encode(word) for word in WORDS}


#: JSON text of the integers 0..9999 and of false/true: rendering a drawn number is a lookup, not a ``str()``.
_INT_JSON: Final = objects([str(i) for i in range(10_000)])
_BOOL_JSON: Final = objects(["false", "true"])
#: JSON text of the scores 0.000..1.000 (``repr(i / 1000)``, the float a 3-decimal round gives).
_SCORE_JSON: Final = objects([repr(i / 1000) for i in range(1001)])
_SCORE_VALUES: Final = np.arange(1001) / 1000


def _fragments(kind: type, values: Array) -> list[str]:
    """JSON text of each value of one column."""
    if kind is str:
        strings = values.tolist()
        try:
            return list(map(_JSON_TEXT.__getitem__, strings))
        except KeyError:  # not (only) vocabulary: ids, messages
            return list(map(_encode, strings))
    if kind is bool:
        return list(_BOOL_JSON[np.asarray(values, dtype=np.bool_).view(np.uint8)].tolist())
    if kind is int:
        array = np.asarray(values)
        if array.dtype.kind in "iu" and array.size and array.min() >= 0 and array.max() < len(_INT_JSON):
            return list(_INT_JSON[array].tolist())
        return list(map(str, array.tolist()))
    if kind is float:
        return list(map(repr, values.tolist()))
    return ["[" + ",".join(map(_encode, value)) + "]" for value in values.tolist()]


def _signal_heads(signal: str, scores: npt.NDArray[np.float64], codes: npt.NDArray[np.intp]) -> list[str]:
    """``score,"priority":…,"action":…`` of each row: one lookup per row in a table of every 3-decimal score
    (checked to hold the very same floats), else rendered one by one."""
    with np.errstate(invalid="ignore"):  # a NaN fails the check below
        index = np.clip(np.rint(scores * 1000).astype(np.intp), 0, 1000)
    if np.array_equal(_SCORE_VALUES[index], scores):
        return list(_score_heads(signal)[index].tolist())
    priority_text, action_text = _PRIORITY_JSON.tolist(), _ACTION_JSON[signal].tolist()
    return [
        f'{score!r},"priority":{priority_text[p]},"action":{action_text[p]}'
        for score, p in zip(scores.tolist(), codes.tolist(), strict=True)
    ]


@functools.cache
def _score_heads(signal: str) -> npt.NDArray[np.object_]:
    _, codes = priorities(_SCORE_VALUES)
    priority_text, action_text = _PRIORITY_JSON.tolist(), _ACTION_JSON[signal].tolist()
    return objects(
        [
            f'{score},"priority":{priority_text[p]},"action":{action_text[p]}'
            for score, p in zip(_SCORE_JSON.tolist(), codes.tolist(), strict=True)
        ]
    )


def _optional_fragments(name: str, kind: type, values: Array) -> list[str]:
    """``,"name":value`` of each row holding a value, ``""`` where the key is left out."""
    present = np.flatnonzero([value is not None for value in values.tolist()])
    texts = [""] * len(values)
    if len(present):
        dtype = np.float64 if kind is float else np.int64 if kind is int else object
        head = "," + _encode(name) + ":"
        for row, text in zip(present.tolist(), _fragments(kind, values[present].astype(dtype)), strict=True):
            texts[row] = head + text
    return texts


def _payload_texts(group: Group) -> tuple[list[str], dict[str, list[str]]]:
    optional = OPTIONAL_PAYLOAD_FIELDS[group.event_type]
    fragments = {
        name: _optional_fragments(name, field_kind, group.columns[name])
        if name in optional
        else _fragments(field_kind, group.columns[name])
        for name, field_kind in PAYLOAD_SCHEMAS[group.event_type].items()
    }
    template = _PAYLOAD_TEMPLATES[group.event_type]
    return list(map(template.__mod__, zip(*fragments.values(), strict=True))), fragments


_PRIORITY_JSON: Final = objects([_encode(p) for p in PRIORITIES])
_ACTION_JSON: Final = {signal: objects([_encode(a) for a in actions]) for signal, actions in ACTIONS.items()}


def _signal_texts(
    group: Group, payload_fragments: Mapping[str, list[str]]
) -> tuple[list[str], npt.NDArray[np.float64]]:
    name = group.event_type
    optional, event_fields, signal = OPTIONAL_PAYLOAD_FIELDS[name], SIGNAL_EVENT_FIELDS[name], SIGNALS[name]
    scores, codes, extras = signal_arrays(name, group.columns)
    template = (
        "{"
        + _members(event_fields, optional)
        + ',"signal":'
        + _encode(signal).replace("%", "%%")
        + ',"score":%s'
        + "".join(f',"{extra}":%s' for extra in extras)
        + ',"model":'
        + _encode(SIGNAL_MODEL).replace("%", "%%")
        + "}"
    )
    columns = [
        *(payload_fragments[field] for field in event_fields if field not in optional),
        *(payload_fragments[field] for field in event_fields if field in optional),
        _signal_heads(signal, scores, codes),
        *(list(map(repr, values.tolist())) for values in extras.values()),
    ]
    return list(map(template.__mod__, zip(*columns, strict=True))), scores


def _members(fields: Sequence[str], optional: frozenset[str]) -> str:
    """``"a":%s,"b":%s%s``: a slot per field, an optional field's slot holding its whole ``,"key":value`` or
    nothing (optional fields come after the required ones)."""
    return ",".join(f'"{name}":%s' for name in fields if name not in optional) + "%s" * sum(
        name in optional for name in fields
    )


def _payload_template(event_type: str) -> str:
    fields, optional = tuple(PAYLOAD_SCHEMAS[event_type]), OPTIONAL_PAYLOAD_FIELDS[event_type]
    if any(field in optional for field in fields[: len(fields) - len(optional)]):
        raise AssertionError(f"{event_type}: optional payload fields must come last")  # a vocabulary mistake
    return "{" + _members(fields, optional) + "}"


_PAYLOAD_TEMPLATES: Final = {name: _payload_template(name) for name in EVENT_TYPE_NAMES}


def make_payloads_json(
    rng: np.random.Generator, event_types: npt.ArrayLike, segments: npt.ArrayLike, currencies: npt.ArrayLike
) -> list[str]:
    """The payload of each event as JSON text (for COPY), drawn from ``rng``.

    ``segments`` and ``currencies`` are the events' customers' (one per row, or one for all); amounts scale
    with the segment and are in the currency.
    """
    groups, n = draw_groups(rng, event_types, segments, currencies)
    texts = np.empty(n, dtype=object)
    for group in groups:
        texts[group.rows] = _payload_texts(group)[0]
    return list(texts.tolist())


def make_payloads_and_signals_json(
    rng: np.random.Generator, event_types: npt.ArrayLike, segments: npt.ArrayLike, currencies: npt.ArrayLike
) -> tuple[list[str], list[str]]:
    """Payload JSON and the derived ``signal_data`` JSON of each event (same draws as :func:`make_payloads_json`)."""
    groups, n = draw_groups(rng, event_types, segments, currencies)
    payloads, signals, _ = _payload_and_signal_texts(groups, n)
    return payloads, signals


def payloads_signals_and_scores_of_codes(
    rng: np.random.Generator,
    type_codes: npt.NDArray[np.intp],
    segment_codes: npt.NDArray[np.intp],
    locale_codes: npt.NDArray[np.intp],
) -> tuple[list[str], list[str], npt.NDArray[np.float64]]:
    """:func:`make_payloads_and_signals_json` of codes (``EVENT_TYPE_NAMES``, ``SEGMENTS``, ``LOCALE_CODES``
    indices; the currency is the locale's), with the same draws, and each row's signal score: for the bulk
    generator (package-internal)."""
    groups = draw_coded(rng, type_codes, segment_codes, LOCALE_CURRENCY[locale_codes])
    return _payload_and_signal_texts(groups, len(type_codes))


def _payload_and_signal_texts(groups: list[Group], n: int) -> tuple[list[str], list[str], npt.NDArray[np.float64]]:
    payloads = np.empty(n, dtype=object)
    signals = np.empty(n, dtype=object)
    scores = np.zeros(n, dtype=np.float64)
    for group in groups:
        texts, fragments = _payload_texts(group)
        payloads[group.rows] = texts
        signals[group.rows], scores[group.rows] = _signal_texts(group, fragments)
    return list(payloads.tolist()), list(signals.tolist()), scores
