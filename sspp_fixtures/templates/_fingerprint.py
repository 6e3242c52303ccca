"""What identifies a template: everything that shapes its data or its reuse machinery, hashed.

A template is built once per fingerprint and found again by name (``sspp_tpl_<first 20 hex>``). Anything that
could change the rows or the objects in the template changes the fingerprint: the migrations, the scenario
(seed and scale included), the tool's version and the source of the code that generates the data (an editable
install keeps its version while its code changes), Faker's version, the format of the reuse machinery, and
any extra SQL a caller runs in the template.
"""

from __future__ import annotations

import functools
import hashlib
from typing import TYPE_CHECKING

from .._code_digest import source_digest, version_of

if TYPE_CHECKING:  # the data code loads only when a fingerprint is computed (see ._memo)
    from ..scenarios import Scenario

__all__ = [
    "BUILD_SUFFIX",
    "OUR_PREFIXES",
    "PARK_SUFFIX",
    "REUSE_FORMAT",
    "TEMPLATE_PREFIX",
    "TEST_PREFIX",
    "code_digest",
    "template_fingerprint",
    "template_name",
    "version_of",
]

#: Version of the reuse machinery installed in templates; bump it whenever that SQL changes.
REUSE_FORMAT = 8
TEMPLATE_PREFIX = "sspp_tpl_"
TEST_PREFIX = "sspp_t_"
#: Only databases named so are ever dropped by this package.
OUR_PREFIXES = (TEMPLATE_PREFIX, TEST_PREFIX)
#: A template under construction is named ``sspp_tpl_<fp20>_b<pid>`` until it is complete.
BUILD_SUFFIX = "_b"
#: A test database kept between runs is named ``sspp_tpl_<fp20>_k<pid>_<n>`` (see ``TestDatabases(park=)``).
PARK_SUFFIX = "_k"
_NAME_HEX = 20

#: Parts of the package whose code decides what a template holds (its data and its reuse machinery).
_DATA_CODE = ("model", "bulkgen", "scenarios", "schema", "loader.py", "templates/_reuse.py", "templates/_template.py")


def code_digest() -> str:
    """sha256 over the source of the modules that generate and load the data."""
    return source_digest(_DATA_CODE)


@functools.cache
def _migrations_checksum() -> str:
    from ..schema import load_migrations, migrations_checksum

    return migrations_checksum(load_migrations())


def template_fingerprint(scenario: Scenario, *, extra_sql: str | None = None) -> str:
    """sha256 (hex) of what a template for ``scenario`` depends on; ``extra_sql`` is SQL run after the load."""
    from .. import __version__

    parts = [
        f"reuse-format:{REUSE_FORMAT}",
        f"migrations:{_migrations_checksum()}",
        f"scenario:{scenario.fingerprint()}",
        f"sspp-fixtures:{__version__}",
        f"code:{code_digest()}",
        f"faker:{version_of('Faker')}",
        f"extra-sql:{hashlib.sha256((extra_sql or '').encode()).hexdigest()}",
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def template_name(fingerprint: str) -> str:
    """The database name of the finished template for ``fingerprint``."""
    return f"{TEMPLATE_PREFIX}{fingerprint[:_NAME_HEX]}"
