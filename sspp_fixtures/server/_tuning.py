"""Settings for throwaway clusters: durability traded for speed, since their data never outlives a test run.

A crash of such a server can corrupt its data; that is fine, the data is regenerated. These settings must
never reach a server whose data matters, so they are only written into clusters this package initialised.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["MARKER", "THROWAWAY_SETTINGS", "append_settings"]

#: First line of the block this package appends to ``postgresql.conf``; finding it means "already tuned".
MARKER = "# --- sspp-fixtures: throwaway-cluster settings ---"

THROWAWAY_SETTINGS: dict[str, str] = {
    # No flush to disk: a crash loses data, which a fixture server does not mind.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    # Minimal WAL lets CREATE TABLE + COPY in one transaction skip WAL (bulk loads); needs no replication.
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "1GB",
    "checkpoint_timeout": "30min",
    # Enough for a test pool per xdist worker plus the template builder.
    "max_connections": "200",
    "shared_buffers": "128MB",
    # JIT costs more than it saves on the short queries tests run.
    "jit": "off",
    "log_min_messages": "warning",
    "log_checkpoints": "off",
}


def append_settings(conf_file: Path, extra: dict[str, str] | None = None) -> None:
    """Append the throwaway settings (and ``extra``) to ``conf_file`` once; later values win in PostgreSQL."""
    text = conf_file.read_text(encoding="utf-8") if conf_file.exists() else ""
    if MARKER in text:
        return
    settings = {**THROWAWAY_SETTINGS, **(extra or {})}
    lines = [MARKER, *(f"{name} = '{value}'" for name, value in settings.items()), ""]
    with conf_file.open("a", encoding="utf-8") as handle:
        handle.write("\n" + "\n".join(lines))
