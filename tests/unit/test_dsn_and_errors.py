"""DSN masking and the error tree."""

from __future__ import annotations

import pickle

import pytest

from sspp_fixtures.dsn import database_name, mask_dsn, mask_text, resolve_dsn, with_database
from sspp_fixtures.errors import (
    DatabaseUnreachableError,
    ExitCode,
    LoadError,
    MigrationDriftError,
    MigrationError,
    ScenarioError,
    SsppError,
    TemplateError,
    UnsafeTargetError,
    UsageError,
    WriteError,
)

SECRET = "pw-S3cr#t"


@pytest.mark.parametrize(
    ("dsn", "masked"),
    [
        ("postgresql://app:hunter2@db:5432/sspp", "postgresql://app:***@db:5432/sspp"),
        ("postgres://app:p%40ss@db/sspp?sslmode=require", "postgres://app:***@db/sspp?sslmode=require"),
        ("postgresql://app@db/sspp", "postgresql://app@db/sspp"),
        ("postgresql:///sspp?host=/tmp&password=hunter2", "postgresql:///sspp?host=/tmp&password=***"),
        ("host=db user=app password=hunter2 dbname=sspp", "host=db user=app password=*** dbname=sspp"),
        ("host=db password='hun ter2' dbname=sspp", "host=db password=*** dbname=sspp"),
    ],
)
def test_mask_dsn(dsn: str, masked: str) -> None:
    assert mask_dsn(dsn) == masked


def test_mask_text_hides_passwords_quoted_anywhere() -> None:
    dsn = f"host=db user=app password='{SECRET}' dbname=sspp"
    text = f"server said: password {SECRET} rejected for {dsn}"
    assert SECRET not in mask_text(text, dsn)


def test_resolve_dsn_prefers_explicit_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://env/db")
    assert resolve_dsn("postgresql://flag/db") == "postgresql://flag/db"
    assert resolve_dsn(None) == "postgresql://env/db"
    monkeypatch.setenv("DATABASE_URL", "  ")
    assert resolve_dsn(None) is None


def test_with_database_keeps_credentials_and_options() -> None:
    assert with_database("postgresql://u:p@h:1/a?sslmode=disable", "b") == "postgresql://u:p@h:1/b?sslmode=disable"
    assert database_name(with_database("host=h user=u dbname=a", "b")) == "b"
    assert database_name("postgresql://u@h/") == "u"


def test_malformed_dsn_is_a_usage_error_without_the_password() -> None:
    with pytest.raises(UsageError) as caught:
        database_name(f"host=db password={SECRET} dbname='unterminated")
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (SsppError("x", hint="do y"), ExitCode.USER_ERROR),
        (UsageError("x", field="--rate", value=0), ExitCode.USAGE),
        (DatabaseUnreachableError("x", dsn="postgresql://db/x", missing_database=True), ExitCode.UNREACHABLE),
        (UnsafeTargetError("x", database="prod", tables=["orders"]), ExitCode.UNSAFE_TARGET),
        (MigrationError("x", file="a.sql", version=2), ExitCode.SCHEMA_CONFLICT),
        (MigrationDriftError("x", file="a.sql"), ExitCode.SCHEMA_CONFLICT),
        (ScenarioError("x", file="s.yaml", line=3, field="rows", problems=[{"line": 3}]), ExitCode.USER_ERROR),
        (TemplateError("x", template="sspp_tpl_x", holder_pid=12, timeout_s=1.5), ExitCode.USER_ERROR),
        (LoadError("x", table="events", sqlstate="23505"), ExitCode.LOAD_FAILED),
        (WriteError("x", errno=28), ExitCode.USER_ERROR),
    ],
)
def test_each_error_has_its_exit_code_and_survives_pickling(error: SsppError, code: int) -> None:
    assert error.exit_code == code
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert (again.details, again.hint, again.args) == (error.details, error.hint, error.args)
    assert str(again) == str(error)


def test_details_are_the_fields_that_are_set() -> None:
    error = DatabaseUnreachableError("cannot connect", dsn="postgresql://db/x")
    assert error.details == {"dsn": "postgresql://db/x"}
    assert ScenarioError("bad", file="s.yaml", line=2).details == {"file": "s.yaml", "line": 2}
    with pytest.raises(TypeError):
        UsageError("x", table="events")  # type: ignore[call-arg]  # a field UsageError does not have


def test_message_ends_with_the_fix() -> None:
    error = SsppError("migration 002 was edited.", hint="restore the file")
    assert str(error) == "migration 002 was edited. Restore the file"
    assert str(SsppError("is it up?", hint="start it")) == "is it up? Start it"
