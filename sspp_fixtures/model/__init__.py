"""The model of SSPP data, shared by both engines: vocabularies, distributions, payloads, signals, row types.

Pure: no database, no clock, no global random state. Every draw takes an explicit
:class:`numpy.random.Generator`; vectorised functions work on whole columns so the bulk generator can call
them on batches of tens of thousands of rows, and the factories call the same functions for one row.
"""

from __future__ import annotations

from ._payload_rules import check_payload
from ._platform_rules import PLATFORM_EVENT_TYPES, platform_signal, platform_signal_score, platform_signal_type
from ._rows import Customer, Event, SalesSignal, Signal
from ._signal_rules import derive_signal_data
from ._time import Processing
from ._vocab import EVENT_TYPE_NAMES, LOCALES, PAYLOAD_SCHEMAS, SEGMENTS

__all__ = [
    "EVENT_TYPE_NAMES",
    "LOCALES",
    "PAYLOAD_SCHEMAS",
    "PLATFORM_EVENT_TYPES",
    "SEGMENTS",
    "Customer",
    "Event",
    "Processing",
    "SalesSignal",
    "Signal",
    "check_payload",
    "derive_signal_data",
    "platform_signal",
    "platform_signal_score",
    "platform_signal_type",
]

# For the other packages of sspp-fixtures and its tests: not part of the supported API
# (README, "Python API"); they may change without notice.
from ._customers import activity_weights as activity_weights
from ._customers import company_names as company_names
from ._customers import customer_id as customer_id
from ._customers import customer_ids as customer_ids
from ._customers import customer_number as customer_number
from ._customers import customer_traits as customer_traits
from ._customers import locale_columns as locale_columns
from ._customers import sample_active_customers as sample_active_customers
from ._customers import sample_annual_values as sample_annual_values
from ._customers import sample_customers as sample_customers
from ._customers import sample_industries as sample_industries
from ._customers import sample_lifecycle_stages as sample_lifecycle_stages
from ._customers import sample_locales as sample_locales
from ._customers import sample_segments as sample_segments
from ._events import EventBatch as EventBatch
from ._events import sample_event_types as sample_event_types
from ._events import sample_events as sample_events
from ._events import sample_sources as sample_sources
from ._journeys import account_teams as account_teams
from ._journeys import story_account_number as story_account_number
from ._journeys import user_count as user_count
from ._journeys import user_ids as user_ids
from ._payload_draws import make_payload as make_payload
from ._payload_draws import make_payloads as make_payloads
from ._payload_json import make_payloads_and_signals_json as make_payloads_and_signals_json
from ._payload_json import make_payloads_json as make_payloads_json
from ._payload_rules import CLOSED_PAYLOAD_FIELDS as CLOSED_PAYLOAD_FIELDS
from ._payload_rules import PAYLOAD_NUMBER_LIMIT as PAYLOAD_NUMBER_LIMIT
from ._payload_vocab import SITE_URL as SITE_URL
from ._platform_rules import PLATFORM_SIGNAL_TYPES as PLATFORM_SIGNAL_TYPES
from ._platform_rules import is_platform_event_type as is_platform_event_type
from ._platform_rules import score_text as score_text
from ._random import derive_rng as derive_rng
from ._random import sample_uuids as sample_uuids
from ._rows import COLUMN_LIMITS as COLUMN_LIMITS
from ._rows import CUSTOMER_COLUMNS as CUSTOMER_COLUMNS
from ._rows import EVENT_COLUMNS as EVENT_COLUMNS
from ._rows import SALES_SIGNAL_COLUMNS as SALES_SIGNAL_COLUMNS
from ._rows import SIGNAL_COLUMNS as SIGNAL_COLUMNS
from ._signal_rules import SIGNAL_EVENT_FIELDS as SIGNAL_EVENT_FIELDS
from ._string_pools import LocalePool as LocalePool
from ._string_pools import Pools as Pools
from ._string_pools import PoolSizes as PoolSizes
from ._string_pools import build_pools as build_pools
from ._string_pools import pool_checksum as pool_checksum
from ._time import Window as Window
from ._time import milliseconds as milliseconds
from ._time import sample_created_at as sample_created_at
from ._time import sample_processing as sample_processing
from ._time import sample_processing_lag as sample_processing_lag
from ._time import sample_timestamps as sample_timestamps
from ._time import sample_updated_at as sample_updated_at
from ._time import to_datetime as to_datetime
from ._time import to_milliseconds as to_milliseconds
from ._validate import choice_problem as choice_problem
from ._validate import shares_sum_problem as shares_sum_problem
from ._validate import text_problem as text_problem
from ._vocab import ACTIVITY_EXPONENT as ACTIVITY_EXPONENT
from ._vocab import ANNUAL_VALUE_LIMIT as ANNUAL_VALUE_LIMIT
from ._vocab import CURRENCIES as CURRENCIES
from ._vocab import CURRENCY_DECIMALS as CURRENCY_DECIMALS
from ._vocab import DEFAULT_EVENT_MIX as DEFAULT_EVENT_MIX
from ._vocab import DEFAULT_INDUSTRY_WEIGHTS as DEFAULT_INDUSTRY_WEIGHTS
from ._vocab import DEFAULT_LIFECYCLE_SHARES as DEFAULT_LIFECYCLE_SHARES
from ._vocab import DEFAULT_LOCALE_SHARES as DEFAULT_LOCALE_SHARES
from ._vocab import DEFAULT_SEGMENT_SHARES as DEFAULT_SEGMENT_SHARES
from ._vocab import DEFAULT_SOURCE_WEIGHTS as DEFAULT_SOURCE_WEIGHTS
from ._vocab import EVENT_TYPES as EVENT_TYPES
from ._vocab import FUNNEL as FUNNEL
from ._vocab import INDUSTRIES as INDUSTRIES
from ._vocab import LIFECYCLE_STAGES as LIFECYCLE_STAGES
from ._vocab import LOCALE_CODES as LOCALE_CODES
from ._vocab import OPTIONAL_PAYLOAD_FIELDS as OPTIONAL_PAYLOAD_FIELDS
from ._vocab import PRODUCT_SLUGS as PRODUCT_SLUGS
from ._vocab import REGIONS as REGIONS
from ._vocab import SIGNAL_TYPES as SIGNAL_TYPES
from ._vocab import SOURCES as SOURCES
from ._vocab import USD_RATES as USD_RATES
from ._vocab import LocaleInfo as LocaleInfo
