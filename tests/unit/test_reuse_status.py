"""What the restore function answers, read once into a status and a reason."""

from __future__ import annotations

import pytest

from sspp_fixtures.templates import Status
from sspp_fixtures.templates._reuse import read_status


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("clean", (Status.CLEAN, None)),
        ("restored", (Status.RESTORED, None)),
        ("busy", (Status.BUSY, None)),
        ("recycle:ddl", (Status.RECYCLED, "ddl")),
        ("recycle:error 42P01: relation x does not exist", (Status.RECYCLED, "error 42P01: relation x does not exist")),
    ],
)
def test_read_status(text: str, expected: tuple[Status, str | None]) -> None:
    assert read_status(text) == expected


def test_only_clean_and_restored_keep_the_database() -> None:
    assert [status for status in Status if status.reused] == [Status.CLEAN, Status.RESTORED]
    assert Status.RESTORED == "restored"  # Outcome.path still compares equal to the text


def test_an_unknown_answer_is_an_error() -> None:
    with pytest.raises(ValueError, match="sideways"):
        read_status("sideways")
