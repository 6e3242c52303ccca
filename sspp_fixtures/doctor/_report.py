"""The doctor's report: checks with a status, a one-line detail, the fix, and the exit code they imply.

Plain data, no rendering: the CLI draws tables from it or prints :meth:`DoctorReport.to_dict` as JSON.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

from .._dsnmask import hide_secrets
from ..errors import ExitCode

__all__ = ["STATUSES", "Check", "DoctorReport", "Status", "hide"]

Status = Literal["ok", "warn", "fail", "skip"]
#: Every status, from best to worst for the eye (``skip``: not applicable or not checked here).
STATUSES: tuple[Status, ...] = get_args(Status)


@dataclass(frozen=True)
class Check:
    """One thing the doctor looked at.

    ``detail`` says what was found in one line; ``fix`` says what to do about a ``warn`` or ``fail`` (and how
    to enable a skipped provider). ``data`` holds the same facts as plain values for ``--json``. A failed check
    makes the doctor exit with ``exit_code`` (3 for an unreachable database, 2 for a malformed DSN, else 1).
    """

    name: str
    status: Status
    detail: str
    fix: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    exit_code: int = ExitCode.USER_ERROR

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"check {self.name!r}: status {self.status!r} is not one of {', '.join(STATUSES)}")
        if self.status in ("warn", "fail") and not self.fix:
            raise ValueError(f"check {self.name!r} is {self.status} but says no fix")
        # One line each, whatever a server or a library put in the text.
        object.__setattr__(self, "detail", _one_line(self.detail))
        if self.fix is not None:
            object.__setattr__(self, "fix", _one_line(self.fix))

    def masked(self, secrets: Sequence[str]) -> Check:
        """The same check with each of ``secrets`` (passwords) replaced by ``***``, data included.

        DSNs are masked where the checks write them; this pass catches a password quoted anywhere else
        (including a user name that is also the password).
        """
        return replace(
            self,
            detail=hide(self.detail, secrets),
            fix=hide(self.fix, secrets) if self.fix else self.fix,
            data={key: _mask_value(value, secrets) for key, value in self.data.items()},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "fix": self.fix,
            "data": dict(self.data),
        }


def _one_line(text: str) -> str:
    return " ".join(text.split()) if "\n" in text or "\r" in text else text


def hide(text: str, secrets: Sequence[str]) -> str:
    """Replace each secret where it stands as a whole (``postgres`` as a password leaves ``postgresql`` alone)."""
    return hide_secrets(text, secrets)


def _mask_value(value: Any, secrets: Sequence[str]) -> Any:
    if isinstance(value, str):
        return hide(value, secrets)
    if isinstance(value, Mapping):
        return {key: _mask_value(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_value(item, secrets) for item in value]
    return value


@dataclass(frozen=True)
class DoctorReport:
    """The machine's checks, the database's (``None`` when no DSN was given), and how long it all took."""

    machine: tuple[Check, ...]
    database: tuple[Check, ...] | None
    dsn: str | None
    elapsed_ms: float

    def __iter__(self) -> Iterator[Check]:
        yield from self.machine
        yield from self.database or ()

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(check for check in self if check.status == "fail")

    @property
    def exit_code(self) -> int:
        """0 when nothing failed (warnings allowed), else the gravest failure's code: 3 > 2 > 1."""
        return max((check.exit_code for check in self.failed), default=ExitCode.OK)

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for check in self:
            found[check.status] += 1
        return found

    def summary(self) -> str:
        """One line: how many checks failed or warn, and which."""
        counts = self.counts()
        parts = [f"{counts['ok']} ok"] + ([f"{counts['skip']} skipped"] if counts["skip"] else [])
        for status, word in (("warn", "warning"), ("fail", "failed")):
            names = [check.name for check in self if check.status == status]
            if names:
                label = f"{word}s" if status == "warn" and len(names) > 1 else word
                parts.append(f"{len(names)} {label} ({', '.join(names)})")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dsn": self.dsn,
            "exit_code": self.exit_code,
            "summary": self.counts(),
            "elapsed_ms": round(self.elapsed_ms, 1),
            "machine": [check.to_dict() for check in self.machine],
            "database": None if self.database is None else [check.to_dict() for check in self.database],
        }
