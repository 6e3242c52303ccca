"""Declarative YAML scenarios: what data to make (sizes, window, mixes, stories), checked before any database."""

from __future__ import annotations

from ._find import find_scenario, list_scenarios
from ._layers import parse_scenario_text as parse_scenario_text
from ._resolve import load_scenario
from ._scenario import Scenario, Story, StoryCustomer, StoryEvent
from ._spec import ScenarioSpec

__all__ = [
    "Scenario",
    "ScenarioSpec",
    "Story",
    "StoryCustomer",
    "StoryEvent",
    "find_scenario",
    "list_scenarios",
    "load_scenario",
    "parse_scenario_text",
]

# For the other packages of sspp-fixtures and its tests: not part of the supported API
# (README, "Python API"); they may change without notice.
from ._resolve import iter_chain_paths as iter_chain_paths
