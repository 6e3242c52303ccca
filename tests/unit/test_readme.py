"""README's two newcomer commands are what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _first_block() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.DOTALL)
    assert block, "README.md has no bash block"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_readme_starts_with_install_and_test_commands() -> None:
    install, test = _first_block()[:2]
    assert "pip install" in install
    assert "sspp-seed" in install
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    pip_step = re.search(r"pip install (?:--quiet )?(.+?)( &&|$)", install)
    assert pip_step
    assert f"pip install --quiet {pip_step.group(1)}" in ci
    last_command = [line for line in ci.splitlines() if line.strip() and not line.startswith("#")][-1]
    assert last_command == test
