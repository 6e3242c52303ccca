"""Template databases and per-test databases: build a seeded template once, hand each test an exact copy fast.

- :func:`ensure_template`: the template for a scenario (fingerprinted, built once per server under a lock).
- :class:`TestDatabases`: per-process pool; ``acquire()`` a database, ``release()`` restores it in place (reuse)
  or recycles it (drop + fresh clone from a background-refilled pool).
- :func:`sweep` / :func:`drop_templates`: clean up what crashed runs and old fingerprints left behind.
"""

from __future__ import annotations

from ..errors import TemplateError
from ._clone_pool import Outcome, TestDatabases, TestDb
from ._fingerprint import REUSE_FORMAT, template_fingerprint, template_name
from ._reuse import REUSE_SCHEMA, Status
from ._sweep import sweep
from ._template import TemplateInfo, drop_templates, ensure_template, list_templates

__all__ = [
    "REUSE_FORMAT",
    "REUSE_SCHEMA",
    "Outcome",
    "Status",
    "TemplateError",
    "TemplateInfo",
    "TestDatabases",
    "TestDb",
    "drop_templates",
    "ensure_template",
    "list_templates",
    "sweep",
    "template_fingerprint",
    "template_name",
]
