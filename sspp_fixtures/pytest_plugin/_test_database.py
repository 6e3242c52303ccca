"""A test's database, kept on its pytest item: the first fixture that asks for it (``sspp_db``, ``sspp_dsn``,
``sspp_adb``) acquires it, and it is released once the test's fixtures are torn down.

Not a fixture of its own: each function-scoped fixture costs pytest some 40 us of setup and teardown (measured:
3,000 trivial tests over a chain of three such fixtures took 0.25 s more than over one).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import pytest

from ..errors import ConnectionBudgetError, SsppError

if TYPE_CHECKING:
    from ..templates import TestDb
    from ._isolation import Isolation
    from ._session import PluginSession

__all__ = ["ItemDatabase", "item_database", "item_database_for"]

_DATABASE = pytest.StashKey["ItemDatabase"]()


class ItemDatabase:
    """This test's database and the isolation mode that handed it out (and takes it back after the test)."""

    def __init__(self, mode: Isolation, db: TestDb) -> None:
        self.mode = mode
        self.db = db

    def release(self) -> None:
        self.mode.release(self.db)


def item_database_for(request: pytest.FixtureRequest, session: PluginSession) -> ItemDatabase:
    """The database of the test ``request`` is for: acquired on the first call, its release scheduled after the
    fixtures set up from then on (all of which may use it) are torn down."""
    item: pytest.Item = request.node
    database = item.stash.get(_DATABASE, None)
    if database is not None:
        return database
    try:
        mode = session.isolation(session.spec(item.get_closest_marker("sspp")))
        database = ItemDatabase(mode, mode.acquire())
    except SsppError as error:
        failure: SsppError = error
    else:
        item.stash[_DATABASE] = database
        item.addfinalizer(functools.partial(_release, item))
        return database
    # failed outside the except block: no "during handling..." chain in the report
    if isinstance(failure, ConnectionBudgetError):  # every later test would fail alike: stop the run
        request.session.shouldstop = f"sspp-fixtures: {failure}"
    pytest.fail(f"{request.node.nodeid}: sspp-fixtures could not provide a database: {failure}", pytrace=False)


def _release(item: pytest.Item) -> None:
    database = item.stash[_DATABASE]
    del item.stash[_DATABASE]  # a rerun of the item (pytest-rerunfailures) acquires anew
    database.release()


def item_database(item: pytest.Item) -> ItemDatabase | None:
    """The database a test's fixtures acquired, if any (for the hooks around the test)."""
    return item.stash.get(_DATABASE, None)
