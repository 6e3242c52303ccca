"""The platform's accounts as a sales team works them: who works each account, how far and when it progresses.

Every account (a customer) has a team of users (sales reps, ``user_001``…) and reaches a depth of the platform's
funnel (email sent → opened → clicked → call → meeting → demo), the busiest accounts the furthest; it is worked
in sales cycles (more for busier accounts), each running the stages in order. All of it is a pure function of
(seed, customer number, cycle), like the customers' traits, so an event made in any batch or process agrees with
every other one.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Final

import numpy as np
import numpy.typing as npt

from ._customers import _power_cdf, sample_active_customers
from ._random import affine_inverse, hashed_uniforms
from ._time import Window
from ._vocab import EVENT_TYPE_NAMES, PLATFORM_FUNNEL

__all__ = [
    "PLATFORM_STAGE_OF_CODE",
    "STAGE_REACH",
    "account_reach",
    "account_teams",
    "order_journeys",
    "reach_gate",
    "sample_event_users",
    "sample_stages",
    "stage_weights",
    "story_account_number",
    "user_count",
    "user_ids",
]

#: Share of the least active accounts whose outreach gets at least as far as each stage of ``PLATFORM_FUNNEL``;
#: more active accounts get further (:func:`account_reach`).
STAGE_REACH: Final = (1.0, 0.72, 0.48, 0.34, 0.22, 0.12)
#: How much further the most active accounts get: their reach draw is raised to ``1 + _ACTIVE_PULL``.
_ACTIVE_PULL: Final = 4.0
#: Accounts drawn (as events draw them) to learn how deep the events' accounts reach: a fixed sample.
_REACH_SAMPLE: Final = 100_000
#: The stage (index in ``PLATFORM_FUNNEL``) of each event type code, -1 for the types outside it.
PLATFORM_STAGE_OF_CODE: Final = np.array(
    [PLATFORM_FUNNEL.index(name) if name in PLATFORM_FUNNEL else -1 for name in EVENT_TYPE_NAMES], dtype=np.intp
)
_STAGE_CODES: Final = np.array([EVENT_TYPE_NAMES.index(name) for name in PLATFORM_FUNNEL], dtype=np.intp)
#: A busy account runs another sales cycle per this many times the average account's activity.
_ACTIVITY_PER_CYCLE: Final = 3.0
_MAX_CYCLES: Final = 4096
#: The least time between two stages of a cycle (share of the window), and how much more it may be.
_GAP_MIN, _GAP_SPAN = 0.02, 0.06
#: How long a stage lasts, in gaps (stages overlap a little).
_STRETCH: Final = 1.5
_US_PER_DAY: Final = 86_400_000_000
#: Redraws before giving up (an account, or a cycle and day); each round redraws only the rows still pending.
_ROUNDS: Final = 64
#: Days drawn in a stage's stretch before a stretch that is all weekend gives way to the next cycle.
_WEEKEND_TRIES: Final = 6
#: Team size per segment (smb, mid_market, enterprise): the least, and how many more at most.
_TEAM_BASE: Final = np.array([1, 2, 3], dtype=np.int64)
_TEAM_EXTRA: Final = np.array([1, 1, 2], dtype=np.int64)
#: Share of an account's events its owner (the team's first user) acts on; the rest spread over the team.
_OWNER_SHARE: Final = 0.55
#: Accounts per sales rep.
_ACCOUNTS_PER_USER: Final = 20


def user_count(n_customers: int) -> int:
    """How many users (sales reps) a scenario of ``n_customers`` accounts has."""
    return max(4, -(-n_customers // _ACCOUNTS_PER_USER))


def user_ids(numbers: npt.ArrayLike) -> list[str | None]:
    """``user_001`` of each user number (>= 1); 0 means no user (``None``)."""
    return [f"user_{number:03d}" if number else None for number in np.asarray(numbers, dtype=np.int64).tolist()]


def story_account_number(customer_id: str) -> int:
    """A stable stand-in number for a story's account (stories name their customers instead of numbering them)."""
    return int.from_bytes(hashlib.sha256(customer_id.encode()).digest()[:6], "little") | (1 << 48)


def _activity_ranks(
    seed: int, numbers: npt.NDArray[np.int64], n_customers: int
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """Which numbers are scenario customers, and each one's rank in the activity order (0: the busiest; the
    inverse of :func:`~.sample_active_customers`' permutation). Stories' accounts get rank 0, to be masked."""
    inside = (numbers >= 1) & (numbers <= n_customers)
    rank = affine_inverse(np.where(inside, numbers - 1, 0), n_customers, seed, "activity")
    return inside, rank.astype(np.float64)


def account_reach(seed: int, numbers: npt.ArrayLike, n_customers: int) -> npt.NDArray[np.intp]:
    """The deepest stage of ``PLATFORM_FUNNEL`` each account reaches (0: only emails are sent to it).

    The more active an account (its rank in the activity order of :func:`~.activity_weights`), the further it
    tends to get: big, busy accounts are the ones that book meetings and see demos. Stories' accounts (numbers
    past ``n_customers``) count as middling.
    """
    array = np.asarray(numbers, dtype=np.int64)
    inside, rank = _activity_ranks(seed, array, n_customers)
    busy = np.where(inside, 1.0 - rank / n_customers, 0.5)
    u = hashed_uniforms(seed, "journey.reach", array) ** (1.0 + _ACTIVE_PULL * busy)
    return np.asarray((u[:, None] < np.asarray(STAGE_REACH[1:])[None, :]).sum(axis=1), dtype=np.intp)


@functools.lru_cache(maxsize=64)
def stage_weights(
    seed: int, n_customers: int, exponent: float, shares: tuple[float, ...]
) -> npt.NDArray[np.float64] | None:
    """Weights of the stages for an account that reaches them all, such that over the events' accounts (which
    reach different depths) the stages come out in ``shares`` (one per stage, summing to 1).

    Found by a fixed-point iteration over the depth distribution of a fixed sample of accounts drawn as events
    draw them. ``None`` when no weights give those shares (a mix asking for more of a deep stage than the
    accounts reaching it can carry).
    """
    target = np.asarray(shares, dtype=np.float64)
    rng = np.random.Generator(np.random.PCG64(_REACH_SAMPLE))
    accounts = sample_active_customers(rng, _REACH_SAMPLE, n_customers, exponent=exponent, seed=seed)
    depth = np.bincount(account_reach(seed, accounts, n_customers), minlength=len(STAGE_REACH)) / _REACH_SAMPLE
    weights = np.where(target > 0, target, 0.0)
    for _ in range(500):
        prefix = np.cumsum(weights)
        share_of = np.divide(weights[None, :], prefix[:, None], out=np.zeros((6, 6)), where=prefix[:, None] > 0)
        realized = (depth[:, None] * np.tril(share_of)).sum(axis=0)
        if np.allclose(realized, target, atol=1e-9):
            return np.asarray(weights / weights.sum(), dtype=np.float64)
        weights = np.divide(weights * target, realized, out=np.zeros(6), where=realized > 0)
        weights /= weights.sum()
    return None


def sample_stages(
    rng: np.random.Generator,
    seed: int,
    type_codes: npt.NDArray[np.intp],
    numbers: npt.NDArray[np.int64],
    *,
    n_customers: int,
    exponent: float,
    shares: tuple[float, ...],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """Which stage each event of the platform's types is: one its account reaches, with :func:`stage_weights`.

    The events' share of each stage stays the mix's; an account's events go no deeper than its reach, so its
    outreach narrows as a funnel (many emails, fewer calls, a demo at the end). When the mix cannot be met that
    way, deep stages are given to accounts that reach them instead (:func:`reach_gate`).
    """
    weights = stage_weights(seed, n_customers, exponent, shares) if sum(shares) > 0 else None
    if weights is None:
        return reach_gate(rng, seed, type_codes, numbers, n_customers, exponent)
    rows = np.flatnonzero(PLATFORM_STAGE_OF_CODE[type_codes] >= 0)
    prefix = np.cumsum(weights)
    depth = account_reach(seed, numbers[rows], n_customers)
    stage = np.searchsorted(prefix, rng.random(len(rows)) * prefix[depth], side="right")
    types = type_codes.copy()
    types[rows] = _STAGE_CODES[np.minimum(stage, depth)]
    return types, numbers


def account_teams(
    seed: int, numbers: npt.ArrayLike, segments: npt.NDArray[np.intp], n_users: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Each account's team: its first user's number (1-based) and team size (consecutive users, a territory)."""
    first = np.floor(hashed_uniforms(seed, "journey.owner", numbers) * n_users).astype(np.int64)
    extra = np.floor(hashed_uniforms(seed, "journey.team", numbers) * (_TEAM_EXTRA[segments] + 1)).astype(np.int64)
    return first + 1, np.minimum(_TEAM_BASE[segments] + extra, n_users)


def sample_event_users(
    rng: np.random.Generator,
    seed: int,
    numbers: npt.NDArray[np.int64],
    segments: npt.NDArray[np.intp],
    type_codes: npt.NDArray[np.intp],
    n_users: int,
) -> npt.NDArray[np.int64]:
    """The user who acted in each event of the platform's types (its account's owner mostly); 0 for other types."""
    first, size = account_teams(seed, numbers, segments, n_users)
    owner = rng.random(len(numbers)) < _OWNER_SHARE
    member = np.where(owner, 0, np.floor(rng.random(len(numbers)) * size).astype(np.int64))
    users = (first - 1 + member) % n_users + 1
    return np.where(PLATFORM_STAGE_OF_CODE[type_codes] >= 0, users, 0)


def reach_gate(
    rng: np.random.Generator,
    seed: int,
    type_codes: npt.NDArray[np.intp],
    numbers: npt.NDArray[np.int64],
    n_customers: int,
    exponent: float,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """Give each event of a platform stage an account that reaches that stage.

    Accounts are drawn again as the events' own draw does (heavy-tailed), so deep stages go to the accounts
    that get that far. An event still without one after a bounded number of rounds becomes its account's
    deepest stage. Returns the (possibly changed) type codes and account numbers.
    """
    stages = PLATFORM_STAGE_OF_CODE[type_codes]
    types, accounts = type_codes.copy(), numbers.copy()
    rows = np.flatnonzero(stages >= 1)
    for _ in range(_ROUNDS):
        short = rows[account_reach(seed, accounts[rows], n_customers) < stages[rows]]
        if not len(short):
            return types, accounts
        accounts[short] = sample_active_customers(rng, len(short), n_customers, exponent=exponent, seed=seed)
        rows = short
    short = rows[account_reach(seed, accounts[rows], n_customers) < stages[rows]]
    types[short] = _STAGE_CODES[account_reach(seed, accounts[short], n_customers)]
    return types, accounts


def _cycle_counts(
    seed: int, accounts: npt.NDArray[np.int64], n_customers: int, exponent: float
) -> npt.NDArray[np.int64]:
    """How many sales cycles each account runs in the window: one, plus one per three times the average
    activity (its share of events, from its rank in :func:`~.activity_weights`); stories' accounts run one."""
    inside, rank = _activity_ranks(seed, accounts, n_customers)
    top = float(n_customers + 1)
    share = _power_cdf(rank + 2.0, top, exponent) - _power_cdf(rank + 1.0, top, exponent)
    relative = np.where(inside, share * n_customers, 0.0)
    return np.asarray(np.clip(1 + np.floor(relative / _ACTIVITY_PER_CYCLE), 1, _MAX_CYCLES - 1), dtype=np.int64)


def _trended(u: npt.NDArray[np.float64], trend: float) -> npt.NDArray[np.float64]:
    """Positions in [0, 1) of density rising linearly to ``trend`` times its start (inverse of its CDF)."""
    a = trend - 1.0
    if abs(a) < 1e-9:
        return u
    return np.asarray((np.sqrt(1.0 + a * (2.0 + a) * u) - 1.0) / a, dtype=np.float64)


def order_journeys(
    rng: np.random.Generator,
    seed: int,
    type_codes: npt.NDArray[np.intp],
    numbers: npt.NDArray[np.int64],
    received_at: npt.NDArray[np.datetime64],
    window: Window,
    *,
    utc_offsets: npt.NDArray[np.float64],
    n_customers: int,
    exponent: float,
    trend: float,
) -> npt.NDArray[np.datetime64]:
    """Times of the platform's events in funnel order per account, to the millisecond (as the platform keeps them).

    An account is worked in sales cycles: one for a quiet account, more the busier it is (about one per three
    times the average activity). In a cycle, stage ``s`` takes place in its own stretch of days: it opens ``s``
    gaps after the cycle's start and lasts one and a half gaps, so an account is emailed before it opens, calls
    come after clicks, meetings before demos, the stages overlapping a little as a real sales cycle does. Cycle
    starts follow the scenario's trend, and a cycle may have begun before the window or end after it (an event
    whose stretch is outside the window takes the account's next cycle); starts and gaps are functions of (seed,
    account, cycle). An event takes one of its account's cycles at random; its day is drawn in its stage's stretch (a
    weekend day is drawn again), its time of day is the one drawn with the business-hour profile. Other event
    types are left as drawn.
    """
    stages = PLATFORM_STAGE_OF_CODE[type_codes]
    rows = np.flatnonzero(stages >= 0)
    times = received_at.astype("datetime64[us]").astype(np.int64)
    if not len(rows):
        return times.astype("datetime64[us]")
    start_us = int(window.start64.astype(np.int64))
    end_us = int(window.end64.astype(np.int64))
    span = end_us - start_us
    accounts = numbers[rows]
    cycles = _cycle_counts(seed, accounts, n_customers, exponent)
    reach = account_reach(seed, accounts, n_customers)
    offset_us = np.round(utc_offsets[rows] * 3_600_000_000).astype(np.int64)
    time_of_day = (times[rows] + offset_us) % _US_PER_DAY
    opens = np.zeros(len(rows))
    stretch = np.zeros(len(rows))
    day = np.zeros(len(rows), dtype=np.int64)
    cycle_of = np.zeros(len(rows), dtype=np.int64)
    tries = np.zeros(len(rows), dtype=np.int64)
    pending = np.arange(len(rows))
    for _ in range(_ROUNDS):
        # A cycle for each pending event; a day in its stage's stretch. A day outside the window (a cycle at its
        # edge) takes the account's next cycle; a weekend day is drawn again, so no weekday gets more than its
        # share (and a stretch that is all weekend, after a few draws, takes the next cycle too).
        fresh = pending[stretch[pending] == 0.0]
        first = tries[fresh] == 0
        picked = np.floor(rng.random(len(fresh)) * cycles[fresh]).astype(np.int64)
        cycle_of[fresh] = np.where(first, picked, cycle_of[fresh] + cycles[fresh]) % _MAX_CYCLES
        cycle = accounts[fresh] * _MAX_CYCLES + cycle_of[fresh]
        gap = _GAP_MIN + _GAP_SPAN * hashed_uniforms(seed, "journey.gap", cycle)
        length = (reach[fresh] + _STRETCH) * gap
        start = _trended(hashed_uniforms(seed, "journey.start", cycle), trend) * (1.0 + length) - length
        opens[fresh] = start + stages[rows[fresh]] * gap
        stretch[fresh] = _STRETCH * gap
        position = opens[pending] + rng.random(len(pending)) * stretch[pending]
        day[pending] = (start_us + np.floor(position * span).astype(np.int64) + offset_us[pending]) // _US_PER_DAY
        tries[pending] += 1
        utc = day[pending] * _US_PER_DAY + time_of_day[pending] - offset_us[pending]
        outside = (utc < start_us) | (utc >= end_us)
        weekend = (day[pending] + 3) % 7 >= 5  # 0 is a Monday (1970-01-01 was a Thursday)
        stretch[pending[outside | (weekend & (tries[pending] % _WEEKEND_TRIES == 0))]] = 0.0  # the next cycle
        pending = pending[outside | weekend]
        if not len(pending):
            break
    utc = day * _US_PER_DAY + time_of_day - offset_us
    times[rows] = np.clip(utc, start_us, end_us - 1)  # only rows no round placed (vanishingly few) are moved
    times[rows] -= times[rows] % 1000  # JavaScript dates: milliseconds
    return times.astype("datetime64[us]")
