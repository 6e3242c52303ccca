"""The lock-wait report lists the test's own sessions first, whatever their pids (pids wrap around)."""

from __future__ import annotations

from sspp_fixtures.pytest_plugin._locks import lock_report


def test_the_tests_own_session_comes_first_even_with_the_higher_pid() -> None:
    other = (100, "", "active", None, "TRUNCATE customers", "AccessExclusiveLock on customers (WAITING)", [900], 1.0)
    own = (900, "sspp-test", "idle in transaction", 2.0, "SELECT 1", "AccessShareLock on customers", [], None)
    report = lock_report("postgresql://unused", "55P03", {900: "sspp_db"}, waiting=(1.5, [other, own]))
    lines = [line for line in report.splitlines() if line.startswith("  pid ")]
    assert lines[0].startswith("  pid 900 sspp_db")
    assert lines[1].startswith("  pid 100 another connection")
    assert "waiting for pid 900 (sspp_db)" in lines[1]
