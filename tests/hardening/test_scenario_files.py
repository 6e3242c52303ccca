"""Scenario files, hostile: generated YAML and mutated shipped files either load or raise ScenarioError.

Whatever a file holds, the loader answers with a Scenario or with one line naming the file; never another
exception, never a hang, never memory blow-up. A few of the same files go through the real CLI too.
"""

from __future__ import annotations

import json
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sspp_fixtures.errors import ScenarioError
from sspp_fixtures.scenarios import Scenario, list_scenarios, load_scenario
from sspp_fixtures.scenarios._spec import FIELD_NAMES
from tests.hardening._cli import assert_refused
from tests.hardening._here import sspp_seed_here

SHIPPED = {name: path.read_text(encoding="utf-8") for name, path in list_scenarios().items()}

# Reproducible in CI: same examples every run, nothing written to a .hypothesis/ folder.
FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# ---------------------------------------------------------------------------------------------------------------
# Arbitrary YAML text: scalars of every kind, flow and block collections, tags, anchors, aliases, tabs.
# ---------------------------------------------------------------------------------------------------------------

NAMES = [
    *FIELD_NAMES,
    "end",
    "days",
    "customer",
    "events",
    "type",
    "day",
    "time",
    "count",
    "payload",
    "segment",
    "locale",
    "purchase",
    "smb",
    "en_US",
    "amount",
    "<<",
]

weird_text = st.text(alphabet=st.characters(codec=None), max_size=12)
numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.integers(min_value=-5, max_value=200).map(str),
    st.sampled_from(["0", "-1", "1e308", "1e999", "-0", "0x1F", "0o17", "1_000", "12:30:00", "2**63", "0.5"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from([".nan", ".NaN", ".inf", "-.inf", "null", "~", "", "true", "False", "yes", "off"]),
)
words = st.one_of(
    st.sampled_from(["2026-06-30", "2026-02-30", "0000-01-01", "2026-06-30 25:00:00", "9999-12-31", "today"]),
    st.sampled_from(["smoke", "load-1m", "demo", "purchase", "page_view", "smb", "en_US", "10:00", "a b c"]),
    st.sampled_from(["cust_000001", "x@y", "mid_market", "enterprise", "software", "customer", "renewal"]),
)
printable_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=12)
quoted_text = st.one_of(
    weird_text.map(json.dumps),  # double-quoted, any code point escaped, lone surrogates too
    printable_text.map(lambda s: "'" + s.replace("'", "''") + "'"),  # single-quoted
)
raw_text = st.one_of(
    st.text(alphabet="ab:#&*!|>-?{}[],'\"%@` \t\\", max_size=8),  # YAML indicators, unquoted
    st.text(alphabet="\x00\x07\x1b\x85\u2028\ufeff\ue000a", max_size=3),  # control and odd characters
)
tags = st.sampled_from(["!!str ", "!!int ", "!!float ", "!!binary ", "!!timestamp ", "!foo ", "!!python/name:x "])


def _values(hostile: bool) -> st.SearchStrategy[str]:
    """Flow-style YAML values. Tidy ones are well-formed YAML (wrong types, odd numbers, escaped text,
    defined aliases) so that validation is reached; hostile ones add raw indicators, control characters,
    tags and undefined aliases."""
    scalars = st.one_of(numbers, words, quoted_text, *([raw_text] if hostile else []))
    decorated = st.tuples(
        st.sampled_from(["", "", "", "&a "]),
        st.one_of(st.just(""), st.just(""), st.just(""), tags) if hostile else st.just(""),
        scalars,
    ).map("".join)
    aliases = st.sampled_from(["*a", "*a", "*nope"] if hostile else ["*a"])
    keys = st.one_of(st.sampled_from(NAMES), st.sampled_from(NAMES), numbers, words, quoted_text)

    def collections(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        mapping = st.lists(st.tuples(keys, children), max_size=5).map(
            lambda pairs: "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
        )
        sequence = st.lists(children, max_size=5).map(lambda items: "[" + ", ".join(items) + "]")
        return st.tuples(st.sampled_from(["", "", "&a "]), st.one_of(mapping, sequence)).map("".join)

    return st.recursive(st.one_of(decorated, decorated, decorated, aliases), collections, max_leaves=12)


TIDY_VALUES, HOSTILE_VALUES_ = _values(hostile=False), _values(hostile=True)


@st.composite
def yaml_documents(draw: st.DrawFn) -> str:
    """A block mapping of mostly real field names with flow-style values; half of them with hostile layout
    (tabs, stray directives and document markers, BOMs, raw control characters, tags, undefined aliases)."""
    hostile = draw(st.booleans())
    values = HOSTILE_VALUES_ if hostile else TIDY_VALUES
    lines = [draw(st.sampled_from(["description: &a described", "window: &a {end: 2026-06-30, days: 30}"]))]
    for _ in range(draw(st.integers(0, 6))):
        key = draw(st.one_of(st.sampled_from(NAMES), st.sampled_from(NAMES), numbers, words, quoted_text))
        indent = draw(st.sampled_from(["", "", "  ", "\t", " "])) if hostile else ""
        lines.append(f"{indent}{key}: {draw(values)}")
        if hostile and draw(st.booleans()):
            lines.append(draw(st.sampled_from(["---", "...", "# comment", "%YAML 1.1", "- x", "? complex", "  - y"])))
    text = "\n".join(lines)
    if hostile:
        text = draw(st.sampled_from(["", "\ufeff", "--- ", "!foo\n", "%YAML 1.2\n---\n"])) + text
        text += draw(st.sampled_from(["\n", "", "\r\n", "\t"]))
    return text + "\n"


def _check(path: Path) -> Scenario | None:
    """The rule: a Scenario, or a one-line ScenarioError naming the file; nothing else."""
    try:
        return load_scenario(path)
    except ScenarioError as error:
        message = str(error)
        assert path.name in message, message
        assert "\n" not in message, message
        assert "\r" not in message, message
        assert len(message) < 2000, message
        return None


def _write(folder: str, name: str, content: str | bytes) -> Path:
    path = Path(folder) / name
    if isinstance(content, str):
        path.write_bytes(content.encode("utf-8", errors="surrogatepass"))
    else:
        path.write_bytes(content)
    return path


@FUZZ
@given(yaml_documents())
def test_generated_yaml_loads_or_raises_scenario_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        _check(_write(folder, "fuzz.yaml", text))


# ---------------------------------------------------------------------------------------------------------------
# Mutations of the shipped scenario files.
# ---------------------------------------------------------------------------------------------------------------

HOSTILE_VALUES = [
    "-1",
    "0",
    "-100000",
    "99999999999999999999",
    "1e308",
    ".nan",
    "-.inf",
    "null",
    "[]",
    "{}",
    "'text'",
    "true",
    "2026-02-30",
    "*undefined",
    "&x",
    "!!binary aGk=",
    '"\\0"',
    '"\\ud800"',
    "[1, [2, [3]]]",
    "{end: 2026-06-30}",
    "cust_000001",
    "load-1m",
    "smoke.yaml",
    "fuzz.yaml",
]


@st.composite
def mutated_scenarios(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(SHIPPED)))
    lines = SHIPPED[name].splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        operation = draw(
            st.sampled_from(["delete", "duplicate", "swap", "flip", "truncate", "value", "value", "tab", "indent"])
        )
        if operation == "delete":
            del lines[i]
        elif operation == "duplicate":
            lines.insert(i, lines[i])
        elif operation == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif operation == "flip" and lines[i]:
            at = draw(st.integers(0, len(lines[i]) - 1))
            char = draw(st.one_of(st.sampled_from(list(":-{}[]#&*!'\"\t 0")), st.characters(codec="utf-8")))
            lines[i] = lines[i][:at] + char + lines[i][at + 1 :]
        elif operation == "truncate":
            text = "\n".join(lines)
            cut = draw(st.integers(0, len(text)))
            lines = text[:cut].splitlines()
        elif operation == "value" and ":" in lines[i]:
            head = lines[i].split(":", 1)[0]
            lines[i] = f"{head}: {draw(st.sampled_from(HOSTILE_VALUES))}"
        elif operation == "tab":
            lines[i] = "\t" + lines[i]
        elif operation == "indent":
            lines[i] = draw(st.sampled_from(["", " ", "   ", "      "])) + lines[i].lstrip()
    return name, "\n".join(lines) + "\n"


@FUZZ
@given(mutated_scenarios())
def test_mutated_shipped_scenarios_load_or_raise_scenario_error(case: tuple[str, str]) -> None:
    name, text = case
    with tempfile.TemporaryDirectory() as folder:
        scenario = _check(_write(folder, f"{name}.yaml", text))
    if scenario is not None:
        assert scenario.customers >= 1
        assert 0 < scenario.processed_share <= 1
        assert all(0 <= e.day < scenario.window_days for s in scenario.stories for e in s.events)


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("customers", "-60", "customers: Input should be greater than or equal to 1"),
        ("customers", "60000000000", "customers: Input should be less than or equal to 50000000"),
        ("events", "-1", "events: Input should be greater than or equal to 0"),
        ("days", "-30", "window.days: Input should be greater than or equal to 1"),
        ("days", "99999", "window.days: Input should be less than or equal to 3660"),
        ("seed", "-42", "seed: Input should be greater than or equal to 0"),
        ("seed", "1" + "0" * 30, "seed: Input should be less than or equal to"),
        ("processed_share", ".nan", "processed_share: nan is not allowed"),
        ("end", "9999-12-31", "window.end: Input should be less than or equal to 9998-12-31"),
        ("end", "2026-02-30", "invalid value: day is out of range for month"),
    ],
)
def test_negative_and_absurd_sizes_name_the_file_line_and_field(
    tmp_path: Path, field: str, value: str, fragment: str
) -> None:
    lines = SHIPPED["smoke"].splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{field}:"))
    indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
    lines[index] = f"{indent}{field}: {value}"
    path = tmp_path / "sized.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert f"{path}:{index + 1}: " in str(caught.value)
    assert fragment in str(caught.value)


# ---------------------------------------------------------------------------------------------------------------
# Specific hostile files.
# ---------------------------------------------------------------------------------------------------------------


def _billion_laughs() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    return "\n".join([*lines, "stories: *a9", ""])


def test_yaml_bomb_is_refused_before_its_aliases_are_expanded(tmp_path: Path) -> None:
    """Refused by counting, not by running out of memory: the peak stays far below what expanding it takes (a
    bound on memory, not on time, so a busy machine cannot fail it)."""
    path = tmp_path / "bomb.yaml"
    path.write_text(_billion_laughs(), encoding="utf-8")
    tracemalloc.start()
    try:
        with pytest.raises(ScenarioError, match=r"more than 100,000 values once its aliases are expanded"):
            load_scenario(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100e6, f"peak {peak / 1e6:.0f} MB"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("stories: &x [*x]\n", "alias *x refers to a mapping or list that contains it"),
        ("window: &x {end: *x}\n", "alias *x refers to a mapping or list that contains it"),
        ("window: &w {end: 2026-06-30, days: 3}\ndescription: &w [&w a, *w]\n", "expected a string, got ['a', 'a']"),
        ("stories: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper than 64 levels"),
        ("window: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n", "nested deeper than 64 levels"),
        ("customers: " + "9" * 5000 + "\n", "invalid value: Exceeds the limit"),
        ("name: x\nname: y\n", "found duplicate key"),
        ("a: &x 1\nb: &x 2\n", "unknown field 'a'"),  # reused anchor: allowed by YAML 1.2, no warning
        ("? [complex, key]\n: 1\n", "a key is a mapping or a list"),
        ('name: "smo\\0ke"\n', "name: the text holds a NUL character"),
        ('description: "\\udc80"\n', "description: the text holds a lone surrogate"),
        ("customers: 1\x00\n", "character #x0000 is not allowed"),
        ("customers: !!python/object:os.system 1\n", "python/object:os.system value is not supported"),
        ("customers: 5\nwindow:\n\tdays: 3\n", "Indent with spaces: YAML does not allow tabs there"),
        ('"window\\nend": 1\n', "'window\\nend'"),
    ],
)
def test_hostile_yaml_is_one_clear_line(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert str(path) in message
    assert fragment in message
    assert "\n" not in message


def test_story_customer_cannot_take_a_generated_customer_id(tmp_path: Path) -> None:
    path = tmp_path / "clash.yaml"
    path.write_text(SHIPPED["smoke"].replace("cust_story_funnel", "cust_000001"), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"clash\.yaml:\d+: stories\.full-funnel: customer_id 'cust_000001'"):
        load_scenario(path)


def test_a_story_outside_a_window_shortened_by_the_child_names_both_files(tmp_path: Path) -> None:
    path = tmp_path / "short.yaml"
    path.write_text("extends: smoke\nname: short\nwindow:\n  days: 3\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert "smoke.yaml:" in str(caught.value)
    assert f"(window.days is set at {path}:4)" in str(caught.value)


def test_binary_and_non_utf8_files(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("name: café\n".encode("latin-1"))
    with pytest.raises(ScenarioError, match=r"latin1\.yaml: not UTF-8 text"):
        load_scenario(latin1)
    png = tmp_path / "image.yaml"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(ScenarioError, match=r"image\.yaml"):
        load_scenario(png)
    nul = tmp_path / "nul.yaml"
    nul.write_bytes(b"customers: 5\n\x00\x00\x00\n")
    with pytest.raises(ScenarioError, match=r"nul\.yaml:2: invalid YAML: character #x0000 is not allowed"):
        load_scenario(nul)


def test_a_folder_and_a_missing_file_get_a_did_you_mean(tmp_path: Path) -> None:
    (tmp_path / "smoke.yaml").write_text(SHIPPED["smoke"], encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"is a folder\. Give one of the \.yaml files in it \(smoke\.yaml\)"):
        load_scenario(tmp_path)
    with pytest.raises(ScenarioError, match=r"smok\.yaml does not exist \(did you mean 'smoke\.yaml'\?\)"):
        load_scenario(tmp_path / "smok.yaml")
    with pytest.raises(ScenarioError, match=r"smoke\.yml does not exist \(did you mean 'smoke\.yaml'\?\)"):
        load_scenario(tmp_path / "smoke.yml")
    with pytest.raises(ScenarioError, match=r"does not exist \(did you mean the built-in scenario 'demo'\?\)"):
        load_scenario("no/such/folder/demo.yaml")
    with pytest.raises(ScenarioError, match=r"is not a regular file"):
        load_scenario(Path("/dev/null"))
    with pytest.raises(ScenarioError, match=r"does not exist"):
        load_scenario(tmp_path / ("x" * 5000 + ".yaml"))  # a name the OS refuses outright
    with pytest.raises(ScenarioError, match=r"extends: unknown scenario"):
        load_scenario(_write(str(tmp_path), "long.yaml", "extends: " + "x" * 5000 + "\n"))


# ---------------------------------------------------------------------------------------------------------------
# The same through the real CLI: `sspp-seed scenarios validate FILE` exits 1 on an invalid file, 0 on a good one.
# ---------------------------------------------------------------------------------------------------------------

CLI_CASES = {
    "bomb.yaml": _billion_laughs().encode(),
    "deep.yaml": ("stories: " + "[" * 3000 + "]" * 3000 + "\n").encode(),
    "latin1.yaml": "name: café\n".encode("latin-1"),
    "binary.yaml": bytes(range(256)) * 4,
    "tabs.yaml": b"customers:\t5\nwindow:\n\tdays: 3\n",
    "negative.yaml": SHIPPED["smoke"].replace("customers: 60", "customers: -60").encode(),
    "surrogate.yaml": b'extends: smoke\ndescription: "\\ud800"\n',
    "missing-parent.yaml": b"extends: ../nowhere/parent.yaml\n",
}


@pytest.mark.parametrize("name", sorted(CLI_CASES))
def test_validate_refuses_hostile_files_with_exit_1_and_no_traceback(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(CLI_CASES[name])
    outcome = sspp_seed_here("scenarios", "validate", str(path))
    assert outcome.code == 1, outcome.stderr
    assert "Traceback" not in outcome.output
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"invalid  {path}"), lines[0]


def test_validate_a_folder_a_missing_file_and_a_good_one_together(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(SHIPPED["smoke"], encoding="utf-8")
    outcome = sspp_seed_here("scenarios", "validate", str(good), str(tmp_path), str(tmp_path / "god.yaml"), "--json")
    assert outcome.code == 1, outcome.stderr
    assert "Traceback" not in outcome.output
    results = json.loads(outcome.stdout)["results"]
    assert [r["valid"] for r in results] == [True, False, False]
    assert "is a folder" in results[1]["error"]
    assert "god.yaml does not exist (did you mean 'good.yaml'?)" in results[2]["error"]


def test_load_of_a_missing_file_through_the_cli(tmp_path: Path) -> None:
    outcome = sspp_seed_here("export", str(tmp_path / "smoke.yml"), "--format", "sql", "--out", str(tmp_path / "o.sql"))
    assert_refused(outcome, 1, "does not exist (did you mean the built-in scenario 'smoke'?)")
    assert not (tmp_path / "o.sql").exists()
