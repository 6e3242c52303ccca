"""Faker-made string pools, built once per machine and kept on disk.

Pools are vocabulary, not data: they use one fixed seed whatever the scenario (the scenario's seed decides
which entries rows draw), so one build serves every scenario. Building all 21 locales takes seconds; reading
them back takes milliseconds. The key includes the Faker version, so an upgrade rebuilds instead of reusing.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import MappingProxyType

import faker

from .._paths import cache_dir
from ..model import LocalePool, Pools, PoolSizes, build_pools
from ._children import ignore_ctrl_c

__all__ = ["POOL_SEED", "POOL_SIZES", "ensure_pools", "load_pools", "pools_from"]

#: The one seed of the pools (a date, for lack of a better constant).
POOL_SEED = 20260630
POOL_SIZES = PoolSizes()
#: Bumped whenever the code that builds pools changes what it builds.
_POOL_FORMAT = 1


def _key(locale: str) -> str:
    text = f"{_POOL_FORMAT}:{POOL_SEED}:{POOL_SIZES!r}:{locale}:{faker.VERSION}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _build_one(locale: str) -> LocalePool:
    return build_pools(POOL_SEED, (locale,), POOL_SIZES)[locale]


def _read(path: Path) -> LocalePool | None:
    try:
        with path.open("rb") as handle:
            pool = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None
    return pool if isinstance(pool, LocalePool) else None


def _write(path: Path, pool: LocalePool) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as handle:
            pickle.dump(pool, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(handle.name, path)
    except OSError:
        pass  # a read-only cache only costs the next run a rebuild


def _path(locale: str) -> Path:
    return cache_dir() / "pools" / f"{locale}-{_key(locale)}.pickle"


def ensure_pools(locales: Sequence[str], *, workers: int = 1) -> None:
    """Build and cache the pools of ``locales`` that the disk cache lacks, so worker processes just read them."""
    missing = [locale for locale in dict.fromkeys(sorted(locales)) if not _path(locale).is_file()]
    if missing:
        load_pools(missing, workers=workers)


def load_pools(locales: Sequence[str], *, workers: int = 1) -> Pools:
    """The pools of ``locales``: from the disk cache where present, else built (in parallel) and cached."""
    wanted = tuple(dict.fromkeys(sorted(locales)))
    found: dict[str, LocalePool] = {}
    for locale in wanted:
        pool = _read(_path(locale))
        if pool is not None:
            found[locale] = pool
    missing = [locale for locale in wanted if locale not in found]
    if missing:
        if workers > 1 and len(missing) > 1:
            with ProcessPoolExecutor(max_workers=min(workers, len(missing)), initializer=ignore_ctrl_c) as executor:
                built = dict(zip(missing, executor.map(_build_one, missing), strict=True))
        else:
            built = {locale: _build_one(locale) for locale in missing}
        for locale, pool in built.items():
            _write(_path(locale), pool)
        found.update(built)
    return pools_from({locale: found[locale] for locale in wanted})


def pools_from(by_locale: dict[str, LocalePool]) -> Pools:
    """:class:`Pools` around locale pools (how a worker process gets them: the mapping proxy does not pickle)."""
    return Pools(seed=POOL_SEED, sizes=POOL_SIZES, faker_version=faker.VERSION, by_locale=MappingProxyType(by_locale))
