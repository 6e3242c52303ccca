"""Keeps pytest's assertion rewriting to the plugin's own modules.

pytest rewrites the ``assert`` statements of every module of a distribution that registers a plugin, so each
module of sspp-fixtures a test run imports (the server, template, loader and generator code: some 40 modules)
is parsed and compiled from source instead of loaded from its ``.pyc``, unless pytest could cache its rewritten
copy (not when ``PYTHONDONTWRITEBYTECODE`` is set, as in many CI images, nor in a read-only environment). That
cost 0.24 s in every run here (``benchmarks/bench_plugin.py``'s start-up), for modules whose asserts are internal
checks, not a test's. The plugin's package stays rewritten: its fixtures are where a user's traceback may go.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PACKAGE", "PLUGIN_PACKAGE", "rewrite_plugin_only"]

PACKAGE = "sspp_fixtures"
PLUGIN_PACKAGE = f"{PACKAGE}.pytest_plugin"


def rewrite_plugin_only(pluginmanager: Any) -> bool:
    """Narrow the rewriting pytest marked for the whole package to :data:`PLUGIN_PACKAGE`; ``False`` when pytest
    has no such mark to narrow (``--assert=plain``, or a pytest whose rewrite hook keeps it otherwise)."""
    hook = getattr(pluginmanager, "rewrite_hook", None)
    marked = getattr(hook, "_must_rewrite", None)  # pytest's own set of marked names: no public way to unmark
    cache = getattr(hook, "_marked_for_rewrite_cache", None)
    if not isinstance(marked, set) or not isinstance(cache, dict) or PACKAGE not in marked:
        return False
    marked.discard(PACKAGE)
    marked.add(PLUGIN_PACKAGE)
    cache.clear()
    return True
