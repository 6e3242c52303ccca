"""Keeping a backup's SQL to SQL: psql must never run a meta-command from a backup file (``\\!`` runs a shell).

Two layers. psql is put in restricted mode (``\\restrict KEY``, a random key the file cannot know) before the
file's SQL, so psql itself refuses every backslash command in it, whatever our reading of the file. And the SQL
is read here first, as psql's lexer reads it (quotes, dollar quotes, comments, COPY data), so a file holding a
meta-command is refused with its line before psql gets it, as is a file that does not read like ``pg_dump``'s
output: its banner, the ``pg_dump`` version its manifest names, its closing line. pg_dump's own
``\\restrict``/``\\unrestrict`` lines are dropped (psql would refuse a second ``\\restrict``).

A backslash inside a string, a dollar-quoted function body, a comment or COPY data is data, and passes.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from ..errors import BackupError

__all__ = ["RESTRICT_VERSIONS", "ScriptGuard", "restrict_line", "supports_restrict"]

#: The first release of each major whose psql has ``\restrict`` (August 2025); every later major has it.
RESTRICT_VERSIONS = {13: 22, 14: 19, 15: 14, 16: 10, 17: 6}

_BANNER = b"--\n-- PostgreSQL database dump\n--\n"
_DUMPED_BY = re.compile(rb"^-- Dumped by pg_dump version (\S+)")
_COMPLETE = b"-- PostgreSQL database dump complete"
_PG_DUMP_RESTRICT = re.compile(rb"\\(?:un)?restrict [A-Za-z0-9]{1,128}\r?\n")
_NAME = rb'(?:"(?:[^"\n]|"")*"|[A-Za-z0-9_$\x80-\xff]+)'
#: The only COPY pg_dump writes: ``COPY schema.table (col, ...) FROM stdin;`` alone on its line.
_COPY_FROM_STDIN = re.compile(
    rb"COPY " + _NAME + rb"(?:\." + _NAME + rb")? (?:\(" + _NAME + rb"(?:, " + _NAME + rb")*\) )?FROM stdin;\r?\n"
)
_END_OF_COPY = (b"\\.\n", b"\\.\r\n")
_NON_STANDARD_STRINGS = re.compile(
    rb"standard_conforming_strings['\"]?\s*(?:=|\bto\b|,)\s*'?(?:off|false|no|0)\b", re.IGNORECASE
)
_IDENT = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$" + bytes(range(0x80, 0x100)))
_DIGITS = frozenset(b"0123456789")
_DOLLAR_TAG = re.compile(rb"\$(?:[A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*)?\$")
_NORMAL_SPECIAL = re.compile(rb"--|/\*|['\"$\\;]|[^\s'\"$\\;/-]+|/(?!\*)|-(?!-)")
_QUOTE_END = re.compile(rb"''|'")
_ESCAPE_QUOTE_END = re.compile(rb"\\.|''|'", re.DOTALL)
_IDENTIFIER_END = re.compile(rb'""|"')
_COMMENT_TURN = re.compile(rb"/\*|\*/")
_HEAD_BYTES = 4096
_META_WORD = re.compile(rb"\\(?:[A-Za-z]+|[^A-Za-z\s]?)")

_NORMAL, _QUOTE, _ESCAPE_QUOTE, _IDENTIFIER, _DOLLAR, _COMMENT, _COPY = range(7)


def supports_restrict(version: str) -> bool:
    """Whether psql ``version`` (``15.20``, ``18.4``, ``18beta1``) has ``\\restrict``."""
    found = re.match(r"(\d+)(?:\.(\d+))?", version)
    if not found:
        return False
    major, minor = int(found[1]), int(found[2] or 0)
    return major >= 18 or minor >= RESTRICT_VERSIONS.get(major, 10**6)


def restrict_line() -> bytes:
    """``\\restrict KEY`` with a fresh random key: from here on psql runs no backslash command."""
    return b"\\restrict " + secrets.token_hex(24).encode() + b"\n"


def _end_of_copy(data: bytes, start: int) -> int:
    """Where the line after the first ``\\.`` line at or after ``start`` (a line start) begins; 0 if none."""
    at = start
    while (at := data.find(b"\\.", at)) >= 0:
        if at == start or data[at - 1] == 0x0A:
            for end in _END_OF_COPY:
                if data.startswith(end, at):
                    return at + len(end)
        at += 1
    return 0


class ScriptGuard:
    """Passes the SQL of a pg_dump script through, line by line; raises :class:`BackupError` on anything psql
    would run as a meta-command, and on a script that does not read like pg_dump's output."""

    def __init__(self, path: Path, dump_tool_version: str, *, source: str = "its SQL") -> None:
        self._path, self._version, self._source = path, dump_tool_version, source
        self._carry = b""
        self._line = 0
        self._state = _NORMAL
        self._dollar = b""
        self._depth = 0
        self._pending = False  # statement text seen since the last ';'
        self._head = b""  # the first bytes, until the banner and the pg_dump version are checked
        self._checked_head = False
        self._complete = False

    def __call__(self, block: bytes) -> bytes:
        data = self._carry + block
        cut = data.rfind(b"\n") + 1
        self._carry = data[cut:]
        lines = data[:cut]
        if not self._checked_head:
            self._head += lines
            if not self._header_ok(final=False):
                return b""
            lines, self._head = self._head, b""
        return self._pass_lines(lines)

    def flush(self) -> bytes:
        """The rest; refuses a script that ends inside a quote or COPY data, or without pg_dump's closing line."""
        rest, self._carry = self._carry, b""
        if not self._checked_head:
            self._head += rest
            self._header_ok(final=True)
            rest, self._head = self._head, b""
        out = self._pass_lines(rest)
        if self._state != _NORMAL or not self._complete:
            raise self._refuse("it does not end as pg_dump ends a dump (-- PostgreSQL database dump complete)")
        return out

    def _header_ok(self, *, final: bool) -> bool:
        """Check the banner and the pg_dump version once enough of the head is here; ``False``: wait for more."""
        head = self._head
        if not (head.startswith(_BANNER) or (not final and _BANNER.startswith(head))):
            raise self._refuse("it does not begin with pg_dump's banner (-- PostgreSQL database dump)")
        for line in head.splitlines(keepends=True):
            found = _DUMPED_BY.match(line)
            if found:
                written_by = found[1].decode(errors="replace")
                if written_by != self._version:
                    raise self._refuse(
                        f"it says pg_dump {written_by[:20]} wrote it, its manifest says {self._version[:20]}"
                    )
                self._checked_head = True
                return True
            if line.strip() and not line.startswith(b"--") and not _PG_DUMP_RESTRICT.fullmatch(line):
                break
        else:
            if not final and len(head) < _HEAD_BYTES:
                return False
        raise self._refuse("it does not name the pg_dump version that wrote it (-- Dumped by pg_dump version)")

    def _pass_lines(self, data: bytes) -> bytes:
        kept: list[bytes] = []
        start = 0
        while start < len(data):
            if self._state == _COPY:  # rows pass whole, up to the line \. (most of a dump: found at C speed)
                found = _end_of_copy(data, start)
                stop = found or len(data)
                self._line += data.count(b"\n", start, stop)
                kept.append(data[start:stop])
                start = stop
                if found:
                    self._state = _NORMAL
                continue
            end = data.find(b"\n", start) + 1 or len(data)
            line = data[start:end]
            start = end
            self._line += 1
            at_boundary = self._state == _NORMAL and not self._pending
            if at_boundary and _PG_DUMP_RESTRICT.fullmatch(line):
                continue  # pg_dump's own guard; ours (a key this file cannot know) is already in force
            if at_boundary and _COPY_FROM_STDIN.fullmatch(line):
                self._state = _COPY
                self._complete = False
                kept.append(line)
                continue
            self._scan(line)
            kept.append(line)
        return b"".join(kept)

    def _scan(self, line: bytes) -> None:
        stripped = line.strip()
        if self._state == _NORMAL and not self._pending and stripped:
            if stripped == _COMPLETE:
                self._complete = True
            elif not stripped.startswith(b"--"):
                self._complete = False
        if self._state == _NORMAL and _NON_STANDARD_STRINGS.search(line):
            raise self._refuse("it turns standard_conforming_strings off, which pg_dump never does")
        at = 0
        while at < len(line):
            at = self._step(line, at)

    def _step(self, line: bytes, at: int) -> int:
        """Consume ``line`` from ``at`` in the current state; the position to continue from."""
        state = self._state
        if state == _NORMAL:
            found = _NORMAL_SPECIAL.search(line, at)
            if found is None:
                return len(line)
            token, at = found[0], found.start()
            if token == b"--":
                return len(line)
            if token == b"/*":
                self._state, self._depth = _COMMENT, 1
                return at + 2
            if token == b"\\":
                word = _META_WORD.match(line, at)
                shown = (word[0] if word else b"\\").decode(errors="replace")[:20]
                raise self._refuse(f"it holds a psql meta-command ({shown}) at line {self._line} of {self._source}")
            if token == b";":
                self._pending = False
                return at + 1
            self._pending = True
            if token not in (b"'", b'"', b"$"):
                return found.end()
            if token == b"'":
                escape = at > 0 and line[at - 1] in b"Ee" and (at < 2 or line[at - 2] not in _IDENT)
                self._state = _ESCAPE_QUOTE if escape else _QUOTE
                return at + 1
            if token == b'"':
                self._state = _IDENTIFIER
                return at + 1
            return self._dollar_at(line, at)
        if state in (_QUOTE, _ESCAPE_QUOTE):
            found = (_ESCAPE_QUOTE_END if state == _ESCAPE_QUOTE else _QUOTE_END).search(line, at)
            if found is None:
                return len(line)
            if found[0] == b"'":
                self._state = _NORMAL
            return found.end()
        if state == _IDENTIFIER:
            found = _IDENTIFIER_END.search(line, at)
            if found is None:
                return len(line)
            if found[0] == b'"':
                self._state = _NORMAL
            return found.end()
        if state == _DOLLAR:
            close = line.find(self._dollar, at)
            if close < 0:
                return len(line)
            self._state = _NORMAL
            return close + len(self._dollar)
        found = _COMMENT_TURN.search(line, at)  # _COMMENT: nested, as PostgreSQL's are
        if found is None:
            return len(line)
        self._depth += 1 if found[0] == b"/*" else -1
        if self._depth == 0:
            self._state = _NORMAL
        return found.end()

    def _dollar_at(self, line: bytes, at: int) -> int:
        run = at
        while run > 0 and line[run - 1] in _IDENT:
            run -= 1
        if run < at and line[run] not in _DIGITS:
            return at + 1  # part of an identifier (a$b$), not a quote
        tag = _DOLLAR_TAG.match(line, at)
        if tag is None:
            return at + 1  # a parameter ($1)
        self._state, self._dollar = _DOLLAR, tag[0]
        return tag.end()

    def _refuse(self, why: str) -> BackupError:
        return BackupError(
            f"backup file {self._path} was not written by sspp-seed backup: {why}",
            hint="nothing was restored; do not restore this file: it was altered or made by something else",
            file=str(self._path),
        )
