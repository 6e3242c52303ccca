"""pytester's runs start with an ini of their own that sets pytest-asyncio's loop scope: pytest-asyncio (a dev
dependency) is active in every run and warns when it is unset, and that warning is not what those runs test. A test
that writes its own ini (``pytester.makeini``) replaces this one."""

from __future__ import annotations

import pytest

PYTESTER_INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


@pytest.fixture
def pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(PYTESTER_INI)
    return pytester
