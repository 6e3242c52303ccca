"""``sspp_django_db``: Django's ``connections["default"]`` pointed at the test's own database for one test.

Django is imported only when a test asks for the fixture. With pytest-django installed, the fixture lifts its block
on database access for the test, and pytest-django never builds a test database of its own as long as the test does
not also ask for ``db``/``transactional_db`` or ``@pytest.mark.django_db``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from ..errors import UsageError

__all__ = ["django_settings", "sspp_django_db"]

_POSTGRES_ENGINES = ("postgresql", "postgis")


def django_settings(dsn: str, current: dict[str, Any]) -> dict[str, Any]:
    """The entries of a ``DATABASES`` alias that point it at the database of ``dsn`` (engine kept if PostgreSQL)."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    engine = str(current.get("ENGINE") or "")
    return {
        "ENGINE": engine if any(name in engine for name in _POSTGRES_ENGINES) else "django.db.backends.postgresql",
        "NAME": str(params.get("dbname") or ""),
        "USER": str(params.get("user") or ""),
        "PASSWORD": str(params.get("password") or ""),
        "HOST": str(params.get("host") or ""),
        "PORT": str(params.get("port") or ""),
    }


def _unblocked(request: pytest.FixtureRequest) -> contextlib.AbstractContextManager[Any]:
    """pytest-django's ``django_db_blocker.unblock()`` when pytest-django runs, else nothing to lift."""
    if not request.config.pluginmanager.hasplugin("django"):
        return contextlib.nullcontext()
    blocker = request.getfixturevalue("django_db_blocker")
    return contextlib.nullcontext() if blocker is None else blocker.unblock()


@pytest.fixture
def sspp_django_db(request: pytest.FixtureRequest, sspp_dsn: str) -> Iterator[Any]:
    """Django's ``connections["default"]`` pointed at this test's database (the ORM sees exactly the seeded data),
    and every Django connection closed after the test, before the database is put back. Returns that connection.

    Django must be configured (``DJANGO_SETTINGS_MODULE`` and ``django.setup()``, or pytest-django's ``--ds``).
    """
    try:
        from django.conf import settings
        from django.db import connections
    except ImportError as error:
        raise UsageError("sspp_django_db needs Django", hint="pip install django") from error
    if not settings.configured:
        raise UsageError(
            "sspp_django_db: Django is not configured",
            hint="set DJANGO_SETTINGS_MODULE and call django.setup() (pytest-django does it with --ds)",
        )
    connection = connections["default"]
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(django_settings(sspp_dsn, saved))
    try:
        with _unblocked(request):
            yield connection
    finally:
        connections.close_all()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
