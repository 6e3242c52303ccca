"""The README's "Use it in your service's tests" examples run, as written, in a project of their own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sspp_fixtures.server import Server

ROOT = Path(__file__).resolve().parents[2]

REPOSITORY_STUB = '''
import json

import psycopg


class SignalRepository:
    """Stands in for a service's own data access code: it opens its own connection."""

    def __init__(self, dsn):
        self.dsn = dsn

    def save(self, *, event_type, customer_id, data):
        with psycopg.connect(self.dsn) as conn:
            conn.execute(
                "INSERT INTO signals (event_type, customer_id, signal_data) VALUES (%s, %s, %s)",
                (event_type, customer_id, json.dumps(data)),
            )
'''


def _python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Use it in your service's tests") :]
    section = section[: section.index("\n## ", 10)]
    return [textwrap.dedent(block) for block in re.findall(r"```python\n(.*?)```", section, re.DOTALL)]


@pytest.mark.slow
def test_readme_examples_pass(tmp_path: Path, pg_server: Server) -> None:
    example, hypothesis_example = _python_blocks()
    (tmp_path / "my_service").mkdir()
    (tmp_path / "my_service" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "my_service" / "repository.py").write_text(REPOSITORY_STUB, encoding="utf-8")
    (tmp_path / "test_signal_api.py").write_text(example, encoding="utf-8")
    (tmp_path / "test_hypothesis.py").write_text(hypothesis_example, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=tmp_path,
        env={**os.environ, "DATABASE_URL": pg_server.dsn, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout
