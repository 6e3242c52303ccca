"""Root conftest: the project's test fixtures live in tests/fix_*.py."""

pytest_plugins = ["pytester", "tests.fix_db", "tests.fix_pytester"]
