"""factory-boy factories for SSPP rows: one object at a time, for tests.

``CustomerFactory``, ``EventFactory``, ``SignalFactory`` and ``SalesSignalFactory`` build the model's row
dataclasses from the same distributions the bulk generator uses (the model's functions, fed by seeded numpy
generators) and Faker in the customer's locale. A signal's ``event`` and an event's ``customer`` are
sub-factories, so references always agree; they are excluded from the rows, never columns. Variants are traits
(``enterprise``, ``churn_risk``, ``purchase``, ``meeting_booked``, …), and call-time keyword arguments win, as in
factory-boy.

``build()`` makes plain objects and never touches a database. ``create()`` and ``create_batch()`` need a
connection bound from outside: :func:`bind_factories` returns factories bound to one connection (the pytest
plugin's ``sspp_factories``), and :func:`bind` binds the plain factories inside a ``with`` block. Every row a
``create`` call makes, sub-objects included, is collected and sent with one COPY per table through
:func:`sspp_fixtures.bulkgen.copy_columns`, in one transaction: ``create_batch(n)`` is three COPYs, not n INSERTs.

:func:`reseed` is the one seeding entry: it reseeds factory-boy's shared random (and so Faker), the numpy
generators and the customer numbering, so the same seed gives the same objects.

The package splits the work: ``_streams`` (random state, seeding), ``_values`` (one field's draw), ``_render``
(rows as COPY-ready chunks), ``_persist`` (collecting and sending), ``_factories`` (declarations), ``_bind``.
"""

from __future__ import annotations

from ._bind import BoundFactories, bind_factories
from ._factories import CustomerFactory, EventFactory, SalesSignalFactory, SignalFactory

__all__ = [
    "BoundFactories",
    "CustomerFactory",
    "EventFactory",
    "SalesSignalFactory",
    "SignalFactory",
    "bind_factories",
]

# For the other packages of sspp-fixtures and its tests: not part of the supported API
# (README, "Python API"); they may change without notice.
from ._bind import bind as bind
from ._render import rows_to_columns as rows_to_columns
from ._streams import FACTORY_CUSTOMER_BASE as FACTORY_CUSTOMER_BASE
from ._streams import reseed as reseed
from ._values import WINDOW as WINDOW
