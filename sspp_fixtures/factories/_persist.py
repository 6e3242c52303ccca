"""Persistence behind ``create``: every row a ``create`` call makes, sub-objects included, is collected and sent
with one COPY per table (:func:`~sspp_fixtures.bulkgen.copy_columns`), in one transaction, on the connection bound
from outside (``Meta.connection``, else :func:`~sspp_fixtures.factories.bind`'s)."""

# factory-boy's declarations (Trait, ...) have no annotations; calling them is the point here.
# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import psycopg
from factory.base import Factory, FactoryOptions, OptionDefault
from factory.declarations import Trait
from factory.enums import BUILD_STRATEGY, CREATE_STRATEGY

from .. import bulkgen
from ..bulkgen import TABLE_ORDER
from ..errors import UsageError
from ..model import Customer, Event, SalesSignal, Signal
from ._render import TABLE_OF, Row, rows_to_columns

__all__ = ["RowFactory", "bound_connection", "scoped"]

T = TypeVar("T", Customer, Event, Signal, SalesSignal)
V = TypeVar("V")


@dataclass
class _Session:
    """The rows one ``create``/``create_batch`` call made, waiting for their COPY.

    They land together or not at all: in a transaction of their own on an autocommit connection, else in the
    caller's transaction (behind a savepoint when one is open), which the caller commits.
    """

    connection: psycopg.Connection[Any]
    rows: dict[str, list[Row]] = field(default_factory=lambda: {table: [] for table in TABLE_ORDER})

    def flush(self) -> None:
        chunks = [rows_to_columns(table, self.rows[table]) for table in TABLE_ORDER if self.rows[table]]
        if not chunks:
            return
        conn = self.connection
        if conn.autocommit or conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
            with conn.transaction():  # its own transaction, or a savepoint in the caller's
                bulkgen.copy_columns(conn, chunks)
        else:  # opens the caller's transaction, which the caller commits or rolls back
            bulkgen.copy_columns(conn, chunks)


@contextlib.contextmanager
def scoped(var: ContextVar[V], value: V) -> Iterator[None]:
    """``var`` holds ``value`` inside the block (this thread or task only)."""
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


_session: ContextVar[_Session | None] = ContextVar("sspp_factories_session", default=None)
bound_connection: ContextVar[psycopg.Connection[Any] | None] = ContextVar("sspp_factories_connection", default=None)


class _Options(FactoryOptions):
    """factory-boy's options plus ``Meta.connection``: the psycopg connection ``create`` writes to."""

    connection: psycopg.Connection[Any] | None

    @property
    def declarations(self) -> dict[str, Any]:
        """factory-boy's declarations, plus each trait's flag at its default ``False``.

        A trait not passed is otherwise looked up, missed, and factory-boy formats an AttributeError holding
        the repr of every declaration: with one trait per event type that was most of the time of a build.
        """
        flags = {name: False for name, parameter in self.parameters.items() if isinstance(parameter, Trait)}
        return {**flags, **super().declarations}

    def _build_default_options(self) -> list[Any]:
        defaults: list[Any] = super()._build_default_options()
        return [*defaults, OptionDefault("connection", None, inherit=True)]


class RowFactory(Factory[T]):
    """Base of the three factories: builds by default, persists through the bound connection with COPY."""

    _options_class = _Options

    class Meta:
        abstract = True
        strategy = BUILD_STRATEGY

    @classmethod
    @contextlib.contextmanager
    def _collecting(cls) -> Iterator[_Session]:
        """The session of the ``create`` call in progress, or a new one sent when the outermost call ends."""
        active = _session.get()
        if active is not None:
            yield active
            return
        connection = cast(_Options, cls._meta).connection or bound_connection.get()
        if connection is None:
            raise UsageError(
                f"{cls.__name__}.create() has no database connection",
                hint="bind one: factories = bind_factories(conn), then factories.customers.create(); "
                "or `with bind(conn):` around the call; build() needs none",
            )
        session = _Session(connection)
        with scoped(_session, session):
            yield session
        session.flush()

    @classmethod
    def _generate(cls, strategy: str, params: dict[str, Any]) -> T:
        if strategy != CREATE_STRATEGY:
            return cast(T, super()._generate(strategy, params))
        with cls._collecting():
            return cast(T, super()._generate(strategy, params))

    @classmethod
    def _create(cls, model_class: type[T], *args: Any, **kwargs: Any) -> T:
        row = model_class(*args, **kwargs)
        session = _session.get()
        if session is None:
            raise UsageError(f"{cls.__name__}._create() was called directly", hint="call create() instead")
        session.rows[TABLE_OF[model_class]].append(row)
        return row

    @classmethod
    def create_batch(cls, size: int, **kwargs: Any) -> list[T]:
        """``size`` objects (and their sub-objects) persisted with one COPY per table, in one transaction."""
        with cls._collecting():
            return [cls.create(**kwargs) for _ in range(size)]
