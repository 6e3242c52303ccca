"""Root conftest: the project's test fixtures live in tests/fix_*.py."""

pytest_plugins = ["tests.fix_db"]
