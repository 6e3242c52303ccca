"""CRC-32 (zlib's polynomial) for the row checksums: zlib-ng's where installed, else the standard library's.

Both give the same value; zlib-ng's takes half the time on a COPY text line here (94 against 204 ns for lines of
267 bytes: a folding CRC and a cheaper call), and a row checksum makes one call per row.
"""

from __future__ import annotations

__all__ = ["crc32"]

try:
    from zlib_ng.zlib_ng import crc32
except ImportError:  # zlib-ng comes with the files extra; without it, the same CRC from the standard library
    from zlib import crc32
