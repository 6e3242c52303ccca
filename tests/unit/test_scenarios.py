"""Scenario files: the shipped ones resolve, and every kind of bad file is refused with file, line and field."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from sspp_fixtures.errors import ScenarioError, UsageError
from sspp_fixtures.model import EVENT_TYPE_NAMES
from sspp_fixtures.scenarios import ScenarioSpec, list_scenarios, load_scenario, parse_scenario_text

GOOD = """\
name: tiny
seed: 3
window:
  end: 2026-06-30
  days: 10
customers: 5
events: 50
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_scenarios_resolve() -> None:
    names = set(list_scenarios())
    assert {"smoke", "demo", "load-100k", "load-1m", "load-10m"} <= names
    for name in names:
        scenario = load_scenario(name)
        assert scenario.name == name
        assert scenario.window_end <= datetime(2026, 7, 1), "shipped scenarios are anchored to a fixed date"
        assert abs(sum(scenario.segment_shares.values()) - 1) < 1e-9


def test_smoke_has_every_event_type_and_load_1m_a_million_signals() -> None:
    smoke = load_scenario("smoke")
    assert {e.type for story in smoke.stories for e in story.events} == set(EVENT_TYPE_NAMES)
    big = load_scenario("load-1m")
    assert big.events * big.processed_share >= 1_000_000
    assert big.window_days == 180, "inherited from load-100k"
    assert load_scenario("load-10m").events * big.processed_share >= 10_000_000


def test_extends_merges_and_child_wins(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", GOOD + "event_mix: {purchase: 0.5}\n")
    child = write(
        tmp_path, "child.yaml", "extends: base.yaml\nname: child\nwindow: {days: 20}\nevent_mix: {renewal: 0}\n"
    )
    scenario = load_scenario(child)
    assert scenario.window_days == 20
    assert scenario.window_end_date == date(2026, 6, 30)
    assert scenario.customers == 5
    assert scenario.event_mix["purchase"] == 0.5
    assert scenario.event_mix["renewal"] == 0
    assert scenario.fingerprint() != load_scenario(tmp_path / "base.yaml").fingerprint()


def test_one_document_parses_to_its_public_spec_without_following_extends() -> None:
    spec = parse_scenario_text("extends: nowhere.yaml\nname: mine\ncustomers: 12\n", "mine.yaml")
    assert isinstance(spec, ScenarioSpec)
    assert (spec.name, spec.customers, spec.extends) == ("mine", 12, "nowhere.yaml")
    with pytest.raises(ScenarioError, match=r"^mine\.yaml:1: customers: .*; mine\.yaml:2: seed: "):
        parse_scenario_text("customers: -1\nseed: many\n", "mine.yaml")


def test_same_content_same_fingerprint(tmp_path: Path) -> None:
    a = load_scenario(write(tmp_path, "a.yaml", GOOD))
    b = load_scenario(write(tmp_path, "b.yaml", GOOD))
    assert a.fingerprint() == b.fingerprint()
    assert a.with_overrides(seed=4).fingerprint() != a.fingerprint()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", r"bad\.yaml: the file is empty"),
        ("# only a comment\n", r"bad\.yaml: the file is empty"),
        ("- 1\n- 2\n", r"bad\.yaml:1: the top level is a list, not a mapping"),
        ("just words\n", r"bad\.yaml:1: the top level is a single value"),
        (GOOD + "evnts: 5\n", r"bad\.yaml:8: evnts: unknown field 'evnts' \(did you mean 'events'\?\); allowed: name"),
        (
            GOOD.replace("customers: 5", "customers: -5"),
            r"bad\.yaml:6: customers: Input should be greater than or equal to 1",
        ),
        (GOOD.replace("customers: 5", "customers: '5'"), r"bad\.yaml:6: customers: expected a whole number, got '5'"),
        (
            GOOD.replace("customers: 5", "customers: 5000000000"),
            r"bad\.yaml:6: customers: Input should be less than or equal to 50000000",
        ),
        (GOOD.replace("days: 10", "days: 0"), r"bad\.yaml:5: window\.days: Input should be greater than or equal to 1"),
        (GOOD.replace("end: 2026-06-30", "end: June"), r"bad\.yaml:4: window\.end: "),
        (
            GOOD + "event_mix: {page_vew: 1}\n",
            r"bad\.yaml:8: event_mix: unknown event type 'page_vew' \(did you mean 'page_view'\?\)",
        ),
        (
            GOOD + "segments: {smb: 0.5, enterprise: 0.2}\n",
            r"bad\.yaml:8: segments: shares must add up to 1, these add up to 0\.7",
        ),
        (GOOD + "locales: {xx_XX: 1}\n", r"bad\.yaml:8: locales: unknown locale 'xx_XX'; allowed: en_US"),
        (GOOD + "processed_share: 1.5\n", r"bad\.yaml:8: processed_share: Input should be less than or equal to 1"),
        (GOOD + "seed: true\n", r"bad\.yaml:\d+: invalid YAML: found duplicate key"),
        (GOOD.replace("seed: 3", "seed: true"), r"bad\.yaml:2: seed: expected a whole number, got True"),
        (GOOD + "window: [1, 2]\n", r"invalid YAML: found duplicate key"),
        ("customers: [5\n", r"bad\.yaml:\d+: invalid YAML"),
        ("name: x\nwindow: {end: 2026-06-30, days: 5}\nevents: 3\n", r"bad\.yaml: customers: required, and no file"),
        (
            GOOD + "event_mix: {page_view: 0, email_open: 0, inquiry: 0, demo_request: 0, trial_signup: 0, purchase: 0,"
            " renewal: 0, upsell: 0, webinar_attended: 0, support_ticket: 0, churn_risk: 0, email_sent: 0,"
            " email_opened: 0, email_clicked: 0, call_made: 0, meeting_booked: 0, demo_completed: 0}\n",
            r"bad\.yaml:8: event_mix: every weight is 0",
        ),
        (
            GOOD + "stories:\n  - name: s\n    customer: {name: A}\n    events:\n      - {type: purchase, day: 10}\n",
            r"bad\.yaml:9: stories\.s: an event on day 10 falls outside the 10-day window",
        ),
        (
            GOOD
            + "stories:\n  - name: s\n    customer: {name: A, segment: huge}\n    events: [{type: purchase, day: 1}]\n",
            r"bad\.yaml:10: stories\[0\]\.customer\.segment: unknown segment 'huge'",
        ),
        (
            GOOD + "stories:\n  - name: s\n    customer: {name: A}\n    events: [{type: purchas, day: 1}]\n",
            r"bad\.yaml:11: stories\[0\]\.events\[0\]\.type: "
            r"unknown event type 'purchas' \(did you mean 'purchase'\?\)",
        ),
        (
            GOOD + "stories:\n  - name: s\n    customer: {name: A}\n    events: []\n",
            r"bad\.yaml:11: stories\[0\]\.events: List should have at least 1 item",
        ),
        (
            GOOD + "stories:\n  - name: s\n    customer: {name: A}\n"
            "    events: [{type: purchase, day: 1, payload: {quantity: many}}]\n",
            r"bad\.yaml:11: stories\[0\]\.events\[0\]\.payload\.quantity: expected a whole number, got 'many'",
        ),
        (
            GOOD + "stories:\n  - name: s\n    customer: {name: A}\n"
            "    events: [{type: purchase, day: 1, payload: {amout: 5}}]\n",
            r"bad\.yaml:11: stories\[0\]\.events\[0\]\.payload\.amout: "
            r"not a field of purchase payloads \(did you mean 'amount'\?\)",
        ),
        (GOOD + "extends: nowhere\n", r"bad\.yaml:8: extends: unknown scenario 'nowhere'"),
        (GOOD + "extends: smok\n", r"extends: unknown scenario 'smok' \(did you mean 'smoke'\?\)"),
    ],
)
def test_bad_files_are_refused_with_file_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ScenarioError, match=expected) as caught:
        load_scenario(write(tmp_path, "bad.yaml", text))
    assert "\n" not in str(caught.value)


def test_cyclic_extends_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD + "extends: b.yaml\n")
    write(tmp_path, "b.yaml", "extends: c.yaml\n")
    write(tmp_path, "c.yaml", "extends: a.yaml\n")
    with pytest.raises(ScenarioError, match=r"extends: cycle .*a\.yaml -> .*b\.yaml -> .*c\.yaml -> .*a\.yaml"):
        load_scenario(tmp_path / "a.yaml")
    write(tmp_path, "self.yaml", GOOD + "extends: self.yaml\n")
    with pytest.raises(ScenarioError, match="cycle"):
        load_scenario(tmp_path / "self.yaml")


def test_error_in_a_parent_names_the_parent(tmp_path: Path) -> None:
    parent = write(tmp_path, "parent.yaml", GOOD + "activity_skew: 9\n")
    write(tmp_path, "child.yaml", "extends: parent.yaml\n")
    with pytest.raises(ScenarioError, match=r"parent\.yaml:8: activity_skew") as caught:
        load_scenario(tmp_path / "child.yaml")
    assert [p["file"] for p in caught.value.problems or []] == [str(parent)]


def test_unknown_names_and_missing_files() -> None:
    with pytest.raises(ScenarioError, match=r"unknown scenario 'demp' \(did you mean 'demo'\?\)"):
        load_scenario("demp")
    with pytest.raises(ScenarioError, match="does not exist"):
        load_scenario("no/such/file.yaml")


def test_scale_and_seed_overrides() -> None:
    smoke = load_scenario("smoke")
    bigger = smoke.with_overrides(scale=10, seed=1)
    assert (bigger.customers, bigger.events, bigger.seed) == (600, 12000, 1)
    assert bigger.stories == smoke.stories
    with pytest.raises(UsageError, match="--scale -1: must be greater than 0"):
        smoke.with_overrides(scale=-1)
    with pytest.raises(UsageError, match="Stay within"):
        smoke.with_overrides(scale=1e9)


def problems_of(path: Path) -> tuple[list[tuple[int, str, str]], str]:
    """The (line, field, problem) of each problem load_scenario reports for ``path``, and its message."""
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return [(p["line"], p["field"], p["problem"]) for p in caught.value.problems or []], str(caught.value)


def test_every_problem_of_a_file_is_reported_at_once_each_at_its_line(tmp_path: Path) -> None:
    """What `sspp-seed scenarios validate` prints: once a file parses, all its problems, not the first one."""
    text = GOOD.replace("customers: 5", "customers: -5") + (
        "evnts: 5\n"  # 8
        "stories:\n"
        "  - name: s\n"
        "    customer: {name: A, segment: huge}\n"  # 11
        "    events:\n"
        "      - type: purchase\n"
        "        day: 1\n"
        "        payload:\n"
        "          quantity: many\n"  # 16
        "          currency: XYZ\n"  # 17
        "      - {type: inquiry, day: 2, payload: {seats: 10000000000000000, colour: red}}\n"  # 18
    )
    found, message = problems_of(write(tmp_path, "bad.yaml", text))
    assert [(line, field) for line, field, _ in found] == [
        (6, "customers"),
        (8, "evnts"),
        (11, "stories[0].customer.segment"),
        (16, "stories[0].events[0].payload.quantity"),
        (17, "stories[0].events[0].payload.currency"),
        (18, "stories[0].events[1].payload.seats"),
        (18, "stories[0].events[1].payload.colour"),
    ]
    assert "expected a whole number, got 'many'" in found[3][2]
    assert "unknown value 'XYZ'" in found[4][2]
    assert "is out of range" in found[5][2]
    assert "not a field of inquiry payloads" in found[6][2]
    assert message.count("bad.yaml:") == len(found)
    assert "\n" not in message


def test_every_problem_of_the_merged_chain_is_reported_at_once(tmp_path: Path) -> None:
    text = GOOD + (
        "stories:\n"
        "  - name: a\n"  # 9
        "    customer: {name: A, customer_id: cust_000001}\n"
        "    events: [{type: purchase, day: 10}]\n"
        "  - name: b\n"  # 12
        "    customer: {name: B}\n"
        "    events: [{type: purchase, day: 1}, {type: renewal, day: 12}]\n"
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, "bad.yaml", text))
    message = str(caught.value)
    assert "bad.yaml:9: stories.a: an event on day 10 falls outside the 10-day window" in message
    assert "bad.yaml:9: stories.a: customer_id 'cust_000001' has the form of a generated customer's" in message
    assert "bad.yaml:12: stories.b: an event on day 12 falls outside the 10-day window" in message


def test_values_the_reader_refuses_are_reported_with_the_rest_and_only_once(tmp_path: Path) -> None:
    text = (
        'name: "ti\\0ny"\n'  # 1
        + GOOD.split("\n", 1)[1]
        + "processed_share: .nan\n"  # 8
        + "evnts: 5\n"  # 9
        + "trend: !!binary aGk=\n"  # 10
    )
    found, message = problems_of(write(tmp_path, "bad.yaml", text))
    assert [(line, field) for line, field, _ in found] == [
        (1, "name"),
        (8, "processed_share"),
        (9, "evnts"),
        (10, "trend"),
    ]
    assert found[0][2].startswith("the text holds a NUL character")
    assert found[1][2] == "nan is not allowed"
    assert found[3][2] == "a bytes value is not supported"
    assert "\n" not in message
