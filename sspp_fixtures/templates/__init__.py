"""Template databases and per-test databases: build a seeded template once, hand each test an exact copy fast.

- :func:`ensure_template`: the template for a scenario (fingerprinted, built once per server under a lock);
  :func:`ensure_scenario_template` the same from a scenario's name or path, without loading it when the template
  it named last time is still current.
- :class:`TestDatabases`: per-process pool; ``acquire()`` a database, ``release()`` restores it in place (reuse)
  or recycles it (drop + fresh clone from a background-refilled pool).
- :func:`sweep` / :func:`drop_templates`: clean up what crashed runs and old fingerprints left behind.
"""

from __future__ import annotations

from ._clone_pool import Outcome, TestDatabases, TestDb
from ._fingerprint import template_fingerprint, template_name
from ._reuse import Status
from ._sweep import sweep
from ._template import TemplateInfo, drop_templates, ensure_scenario_template, ensure_template, list_templates

__all__ = [
    "Outcome",
    "Status",
    "TemplateInfo",
    "TestDatabases",
    "TestDb",
    "drop_templates",
    "ensure_scenario_template",
    "ensure_template",
    "list_templates",
    "sweep",
    "template_fingerprint",
    "template_name",
]

# For the other packages of sspp-fixtures and its tests: not part of the supported API
# (README, "Python API"); they may change without notice.
from ..errors import TemplateError as TemplateError
