"""Random-number plumbing: named streams, counter-based hashing, cheap permutations, categorical draws.

Every draw takes an explicit :class:`numpy.random.Generator`; nothing reads global random state. Values that
must be recomputed from a row's number alone (a customer's segment when one of its events is made in another
batch or process) come from :func:`hashed_uniforms`, a pure function of (seed, stream, number).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import numpy.typing as npt

from ..errors import ScenarioError

__all__ = [
    "affine_inverse",
    "affine_permutation",
    "categorical",
    "categorical_from_uniforms",
    "derive_rng",
    "hashed_uniforms",
    "sample_uuids",
    "stream_key",
]


def stream_key(seed: int, *keys: str | int) -> int:
    """A 64-bit key for (seed, keys...): stable across processes, platforms and Python versions."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ScenarioError(f"seed: expected an integer >= 0, got {seed!r}", field="seed", value=seed)
    text = "\x1f".join([str(seed), *(f"{type(key).__name__}:{key}" for key in keys)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def derive_rng(seed: int, *keys: str | int) -> np.random.Generator:
    """The generator of one named stream, e.g. ``derive_rng(seed, "events", batch)``: same keys, same numbers."""
    key = stream_key(seed, *keys)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([key & 0xFFFFFFFF, key >> 32, seed])))


def _splitmix64(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    z = values + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def hashed_uniforms(seed: int, stream: str, numbers: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Uniforms in [0, 1), one per number, that depend only on (seed, stream, number) (SplitMix64 hash)."""
    array = np.asarray(numbers, dtype=np.int64)
    key = np.uint64(stream_key(seed, stream))
    with np.errstate(over="ignore"):  # wrap-around is the point of the hash
        mixed = _splitmix64(_splitmix64(array.astype(np.uint64) ^ key) ^ key)
    return (mixed >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def categorical_from_uniforms(
    uniforms: npt.NDArray[np.float64], probabilities: npt.NDArray[np.float64]
) -> npt.NDArray[np.intp]:
    """Category codes by inverse CDF: code ``i`` comes with probability ``probabilities[i]``."""
    cumulative = np.cumsum(probabilities)
    codes = np.searchsorted(cumulative / cumulative[-1], uniforms, side="right")
    return np.minimum(codes, len(probabilities) - 1)


def categorical(rng: np.random.Generator, n: int, probabilities: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """``n`` category codes drawn with ``probabilities`` (which sum to 1)."""
    return categorical_from_uniforms(rng.random(n), probabilities)


def _affine(size: int, seed: int, stream: str) -> tuple[int, int]:
    if size <= 0:
        raise ScenarioError(f"{stream}: size must be > 0, got {size}", field=stream, value=size)
    key = stream_key(seed, stream, size)
    multiplier = key % size or 1
    while math.gcd(multiplier, size) != 1:
        multiplier = multiplier % size + 1
    return multiplier, (key >> 32) % size


def affine_permutation(indices: npt.ArrayLike, size: int, seed: int, stream: str) -> npt.NDArray[np.int64]:
    """A permutation of ``range(size)`` applied to ``indices``, computed per index (no table of ``size``)."""
    multiplier, offset = _affine(size, seed, stream)
    array = np.asarray(indices, dtype=np.int64)
    if size < (1 << 31):
        return (array * multiplier + offset) % size
    return np.array([(int(i) * multiplier + offset) % size for i in array.tolist()], dtype=np.int64)


def affine_inverse(values: npt.ArrayLike, size: int, seed: int, stream: str) -> npt.NDArray[np.int64]:
    """The indices :func:`affine_permutation` maps to ``values`` (its inverse)."""
    multiplier, offset = _affine(size, seed, stream)
    inverse = pow(multiplier, -1, size) if size > 1 else 0
    array = np.asarray(values, dtype=np.int64)
    if size < (1 << 31):
        return ((array - offset) % size * inverse) % size
    return np.array([(int(v) - offset) * inverse % size for v in array.tolist()], dtype=np.int64)


# Byte b as its two lowercase hex digits, in memory order (a uint16 whose bytes are the digits).
_HEX_PAIRS = np.frombuffer(b"".join(f"{b:02x}".encode() for b in range(256)), dtype=np.uint16)
# The canonical text's groups: (first character, first hex digit, digits); a dash follows all but the last.
_UUID_GROUPS = ((0, 0, 8), (9, 8, 4), (14, 12, 4), (19, 16, 4), (24, 20, 12))


def sample_uuids(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` version-4 UUIDs in canonical text form, drawn from ``rng`` (reproducible, unlike uuid4).

    The text is assembled as one byte array (hex digits by byte lookup, dashes, newlines) and split once:
    several times faster than formatting each UUID in Python.
    """
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    digits = np.take(_HEX_PAIRS, raw).view(np.uint8)
    text = np.empty((n, 37), dtype=np.uint8)
    for first, digit, count in _UUID_GROUPS:
        text[:, first : first + count] = digits[:, digit : digit + count]
        text[:, first + count] = ord("-")
    text[:, 36] = ord("\n")
    return text.tobytes().decode("ascii").split("\n")[:n]
