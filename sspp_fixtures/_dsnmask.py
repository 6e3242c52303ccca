"""Masking passwords in DSNs and in any text that may quote one, as libpq reads a DSN.

A password is found where libpq finds it: in a URL, between the user name and the ``@`` that ends the
credentials (the *last* one, so an unencoded ``@`` in the password cannot push part of it into the host name),
or in a ``password=`` query parameter; in key=value form, as the value libpq's grammar reads (quoted with
backslash escapes, or unquoted up to a space that is not backslash-escaped). libpq's own parse
(``psycopg.conninfo``) then says what the password is, and the result is checked not to show it.

In free text, the DSNs the caller knows are replaced whole, DSN-like pieces are masked, and the pieces of the
passwords libpq could have quoted (as a host name, in a parse error) are hidden where they stand as whole words
or inside a quoted piece (libpq quotes what it echoes); a password that could be an ordinary word (``on``,
``host``) is hidden only there, so the words of a message stay whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from urllib.parse import quote, unquote

import psycopg
from psycopg import conninfo as _conninfo

__all__ = ["MASK", "hide_secrets", "mask_dsn", "mask_text", "secret_fragments"]

MASK = "***"

#: Any URL (postgresql://, redis://, a mistaken mysql://): credentials are masked whatever the scheme.
_URL_START = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://")
_PASSWORD_KEY = re.compile(r"(?<![A-Za-z0-9_])password\s*=\s*", re.IGNORECASE)
_QUOTED = re.compile(r"\"[^\"\n]*\"|'[^'\n]*'")
#: Shorter pieces are hidden only where they stand as whole words, never inside a quoted word.
_MIN_INSIDE = 4
#: Where libpq may cut a password written into a URL unencoded (credentials, host, port, path, query).
_CUTS = re.compile(r"[@\s:/?#&=,'\"\\]+")
#: Pieces shorter than this are too common to hide without mangling words (and tell little).
_MIN_PIECE = 3
#: A secret of letters only and shorter than this may be an ordinary word of a message.
_MIN_WORDLIKE_FREE = 8


def _is_url(text: str) -> bool:
    return _URL_START.match(text.lstrip()) is not None


def _kv_value_end(text: str, start: int) -> int:
    """Where a key=value value starting at ``start`` ends, by libpq's grammar (``conninfo_parse``)."""
    at = start
    if at < len(text) and text[at] == "'":
        at += 1
        while at < len(text):
            if text[at] == "\\":
                at += 2
            elif text[at] == "'":
                return at + 1
            else:
                at += 1
        return len(text)
    while at < len(text) and not text[at].isspace():
        at += 2 if text[at] == "\\" else 1
    return min(at, len(text))


def _kv_decode(raw: str) -> str:
    """The value libpq makes of a raw key=value value (quotes removed, backslash escapes resolved)."""
    body = raw[1:-1] if len(raw) >= 2 and raw.startswith("'") and raw.endswith("'") else raw.lstrip("'")
    return re.sub(r"\\(.)", r"\1", body, flags=re.DOTALL)


def _password_values(text: str) -> list[tuple[int, int]]:
    """Spans of every ``password=`` value in ``text`` (key=value DSNs, alone or inside a message)."""
    spans: list[tuple[int, int]] = []
    for found in _PASSWORD_KEY.finditer(text):
        start = found.end()
        if not text.startswith(MASK, start):  # masked already: keep what follows it in a message
            spans.append((start, _kv_value_end(text, start)))
    return spans


def _url_credentials(url: str) -> tuple[int, int] | None:
    """Span of a URL's password: after ``user:`` up to the last ``@`` (libpq stops at the first one, which
    would put the rest of a password holding ``@`` into the host name)."""
    begin = url.find("://") + 3
    at = url.rfind("@")
    if at < begin:
        return None
    colon = url.find(":", begin, at)
    return (colon + 1, at) if colon >= 0 else None


def _url_query_passwords(url: str) -> list[tuple[int, int]]:
    """Spans of ``password=`` values in a URL's query (each ends at ``&`` or ``#``, as libpq splits them)."""
    spans: list[tuple[int, int]] = []
    query = url.find("?")
    if query < 0:
        return spans
    at = query + 1
    for part in re.split(r"(&)", url[query + 1 :]):
        if part.lower().startswith("password="):
            value = at + len("password=")
            end = at + len(part.split("#", 1)[0])
            spans.append((value, end))
        at += len(part)
    return spans


def _replace_spans(text: str, spans: Iterable[tuple[int, int]]) -> str:
    for start, end in sorted(set(spans), reverse=True):
        if text[start:end] != MASK:
            text = text[:start] + MASK + text[end:]
    return text


def _mask_url(url: str) -> str:
    spans = _url_query_passwords(url)
    credentials = _url_credentials(url)
    if credentials is not None:
        spans.append(credentials)
    return _replace_spans(url, spans)


def _libpq_password(dsn: str) -> str | None:
    try:
        password = _conninfo.conninfo_to_dict(dsn).get("password")
    except psycopg.ProgrammingError:
        return None
    return str(password) if password else None


def mask_dsn(dsn: str) -> str:
    """``dsn`` with its password replaced by ``***`` (URL or key=value form); a user or database name that is
    also the password is masked too."""
    masked = _mask_url(dsn) if _is_url(dsn) else _replace_spans(dsn, _password_values(dsn))
    password = _libpq_password(dsn)
    return hide_secrets(masked, [password]) if password else masked


def secret_fragments(*dsns: str) -> list[str]:
    """What of the DSNs' passwords must never be shown, longest first: each password as libpq reads it and as
    written (raw, percent-decoded, percent-encoded), and its pieces around ``@`` and spaces (libpq may quote
    a piece as a host name)."""
    found: set[str] = set()
    for dsn in dsns:
        if not dsn:
            continue
        written: list[str] = []
        if _is_url(dsn):
            spans = _url_query_passwords(dsn)
            credentials = _url_credentials(dsn)
            spans += [credentials] if credentials is not None else []
            written += [dsn[start:end] for start, end in spans]
            written += [unquote(text) for text in written]
        else:
            raws = [dsn[start:end] for start, end in _password_values(dsn)]
            written += raws + [_kv_decode(raw) for raw in raws]
        password = _libpq_password(dsn)
        if password:
            written.append(password)
        for secret in written:
            found.update({secret, quote(secret, safe="")})
            found.update(piece for piece in _CUTS.split(secret) if len(piece) >= _MIN_PIECE)
    return sorted((secret for secret in found if secret and secret != MASK), key=len, reverse=True)


def _whole(secret: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])")


def _wordlike(secret: str) -> bool:
    """Could stand in a sentence (``on``, ``host``, ``running``): letters only, and short."""
    return secret.isascii() and secret.isalpha() and len(secret) < _MIN_WORDLIKE_FREE


def hide_secrets(text: str, secrets: Sequence[str], *, plain_words: bool = True) -> str:
    """Replace each secret where it stands as a whole word (``postgres`` as a password leaves ``postgresql``
    alone), and a quoted piece of text holding one (libpq quotes what it echoes: hosts, names, values).

    ``plain_words=False``: a secret that could be an ordinary word (letters only, short) is hidden only inside
    a quoted piece, so that ``on`` as a password leaves "running on that host" readable.
    """
    patterns = [(secret, _whole(secret)) for secret in secrets]

    def quoted(match: re.Match[str]) -> str:
        body = match[0][1:-1]
        for secret, whole in patterns:
            if (len(secret) >= _MIN_INSIDE and secret in body) or whole.search(body):
                return f"{match[0][0]}{MASK}{match[0][-1]}"
        return match[0]

    text = _QUOTED.sub(quoted, text)
    for secret, whole in patterns:
        if plain_words or not _wordlike(secret):
            text = whole.sub(MASK, text)
    return text


def _mask_embedded(text: str) -> str:
    """Mask the password of each URL inside free text (a URL ends at the first space) and each password=
    value outside them."""
    pieces: list[str] = []
    at = 0
    for found in _URL_START.finditer(text):
        if found.start() < at:
            continue
        end = found.start()
        while end < len(text) and not text[end].isspace():
            end += 1
        before = text[at : found.start()]
        pieces.append(_replace_spans(before, _password_values(before)))
        pieces.append(_mask_url(text[found.start() : end]))
        at = end
    rest = text[at:]
    pieces.append(_replace_spans(rest, _password_values(rest)))
    return "".join(pieces)


def mask_text(text: str, *dsns: str) -> str:
    """Mask DSNs inside free text, and what the given DSNs' passwords are made of wherever it stands."""
    masked = text
    for dsn in sorted({d for d in dsns if d}, key=len, reverse=True):
        masked = masked.replace(dsn, mask_dsn(dsn))
    return hide_secrets(_mask_embedded(masked), secret_fragments(*dsns), plain_words=False)
