"""Binding the factories to a connection: :func:`bind_factories` makes subclasses whose ``create`` writes to it
(the pytest plugin's ``sspp_factories``), :func:`bind` binds the plain factories inside a ``with`` block."""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import psycopg
from factory.enums import CREATE_STRATEGY

from ..errors import UsageError
from ._factories import CustomerFactory, EventFactory, SalesSignalFactory, SignalFactory
from ._persist import RowFactory, bound_connection, scoped

__all__ = ["BoundFactories", "bind", "bind_factories"]

F = TypeVar("F", bound="RowFactory[Any]")


@dataclass(frozen=True)
class BoundFactories:
    """The factories bound to one connection: ``customers()``/``create()`` persist, ``build()`` does not."""

    connection: psycopg.Connection[Any]
    customers: type[CustomerFactory]
    events: type[EventFactory]
    signals: type[SignalFactory]
    sales_signals: type[SalesSignalFactory]


def _check_connection(connection: object) -> psycopg.Connection[Any]:
    if not isinstance(connection, psycopg.Connection):
        raise UsageError(
            f"the factories need a psycopg.Connection, got {type(connection).__name__}",
            hint="open one with sspp_fixtures.dsn.connect(dsn) and pass it to bind_factories()",
        )
    return connection


def _bound(base: type[F], connection: psycopg.Connection[Any]) -> type[F]:
    meta = type("Meta", (), {"connection": connection, "strategy": CREATE_STRATEGY})
    namespace = {"Meta": meta, "__doc__": base.__doc__, "__module__": base.__module__}
    return cast(type[F], types.new_class(f"Bound{base.__name__}", (base,), exec_body=lambda ns: ns.update(namespace)))


def bind_factories(connection: psycopg.Connection[Any]) -> BoundFactories:
    """Subclasses of the factories whose ``create`` writes to ``connection`` (and whose call creates).

    Each call makes its own classes, so tests and threads with their own connections never share one;
    they share the customer numbering, so their customers never collide.
    """
    connection = _check_connection(connection)
    return BoundFactories(
        connection=connection,
        customers=_bound(CustomerFactory, connection),
        events=_bound(EventFactory, connection),
        signals=_bound(SignalFactory, connection),
        sales_signals=_bound(SalesSignalFactory, connection),
    )


@contextlib.contextmanager
def bind(connection: psycopg.Connection[Any]) -> Iterator[BoundFactories]:
    """Inside the block, ``create`` of the plain factories writes to ``connection`` (this thread/task only)."""
    bound = bind_factories(connection)
    with scoped(bound_connection, connection):
        yield bound
