"""Declarative YAML scenarios: what data to make (sizes, window, mixes, stories), checked before any database."""

from __future__ import annotations

from ._find import builtin_scenarios_dir, find_scenario, list_scenarios
from ._layers import parse_scenario_text as parse_scenario_text
from ._resolve import iter_chain_paths, load_scenario
from ._scenario import Scenario, Story, StoryCustomer, StoryEvent
from ._spec import MAX_CUSTOMERS, MAX_EVENTS, ScenarioSpec

__all__ = [
    "MAX_CUSTOMERS",
    "MAX_EVENTS",
    "Scenario",
    "ScenarioSpec",
    "Story",
    "StoryCustomer",
    "StoryEvent",
    "builtin_scenarios_dir",
    "find_scenario",
    "iter_chain_paths",
    "list_scenarios",
    "load_scenario",
    "parse_scenario_text",
]
