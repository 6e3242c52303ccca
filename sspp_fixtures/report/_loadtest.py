"""The pictures of a load test (``replay --report``): over the seconds of the run, the rate sent beside the rate
set, the queue's depth by state, the jobs finished and the worker's rate; then what ``verify`` found. One page,
from a :class:`~sspp_fixtures.replay.Recording` (also one cut short by Ctrl-C: it says so at the top)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..replay._pace import batch_size
from ._charts import EXPECTED_COLOR, FLAG_COLOR, Chart, Row, chart_from_figure, figure
from ._page import Section, render_page, write_page

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..replay import Recording
    from ..replay._record import Sample

__all__ = ["loadtest_sections", "render_loadtest", "write_loadtest_report"]

#: A set rate is held if the mean over the sending is within 1% of it (the design's promise, bench_replay.py).
RATE_TOLERANCE: Final = 0.01
_WIDTH, _HEIGHT = 6.4, 2.8
_WAITING_SHADE: Final = "#f0f3f6"


def _values(samples: Sequence[Sample], pick: Callable[[Sample], float | None]) -> list[float]:
    return [math.nan if (value := pick(s)) is None else float(value) for s in samples]


def _sending(samples: Sequence[Sample]) -> list[Sample]:
    return [s for s in samples if s.phase == "sending"]


def _axes(fig: Any, samples: Sequence[Sample], ylabel: str) -> Axes:
    """Axes over the run's seconds, the time spent waiting for the queue shaded and named."""
    ax: Axes = fig.subplots()
    ax.set_xlabel("seconds since the first event was sent")
    ax.set_ylabel(ylabel)
    waiting = [s.seconds for s in samples if s.phase == "waiting"]
    if waiting:
        first = max((s.seconds for s in _sending(samples)), default=waiting[0])
        ax.axvspan(first, waiting[-1], color=_WAITING_SHADE, zorder=0, label="waiting for the queue to drain")
    if not samples:
        ax.text(0.5, 0.5, "nothing was recorded", transform=ax.transAxes, ha="center", va="center")
    ax.set_xlim(left=0, right=max(1.0, samples[-1].seconds if samples else 1.0))
    return ax


def _rates(ax: Axes, samples: Sequence[Sample], pick: Callable[[Sample], float | None], **style: Any) -> None:
    """A rate as steps: each sample's value holds over the second that led up to it."""
    if len(samples) >= 2:  # a rate needs a span
        ax.stairs(_values(samples[1:], pick), [s.seconds for s in samples], baseline=None, **style)


def _finish(ax: Axes) -> None:
    """Counts and rates start at 0; an empty chart still shows a sensible scale; the legend where it hides least."""
    ax.set_ylim(bottom=0, top=max(1.0, ax.get_ylim()[1]))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8, framealpha=0.8)


def _mean_send_rate(recording: Recording) -> float | None:
    sending = _sending(recording.samples)
    if not sending or sending[-1].seconds <= 0:
        return None
    return sending[-1].sent / sending[-1].seconds


def _sent_chart(recording: Recording) -> Chart:
    samples, target = recording.samples, recording.target_rate
    mean = _mean_send_rate(recording)
    rows = [Row(label="events sent", expected=None, actual=float(recording.sent))]
    if target is not None:
        seconds = max((s.seconds for s in _sending(samples)), default=0.0)
        # 1%, or what a count in whole batches (some in flight, not yet confirmed) can tell over a short run
        tolerance = max(target * RATE_TOLERANCE, 3 * batch_size(target) / seconds if seconds > 0 else 0.0)
        flagged = mean is not None and abs(mean - target) > tolerance
        rows.append(Row(label="mean rate while sending", expected=target, actual=mean, tolerance=tolerance,
                        unit="/s", flagged=flagged))  # fmt: skip
    else:
        rows.append(Row(label="mean rate while sending", expected=None, actual=mean, unit="/s"))
    with figure(_WIDTH, _HEIGHT) as fig:
        ax = _axes(fig, samples, "events per second")
        if target is not None:
            ax.axhline(target, color=EXPECTED_COLOR, linestyle="--", label=f"set rate {target:,.0f}/s")
        _rates(ax, samples, lambda s: s.sent_rate, label="sent")
        _finish(ax)
        pace = (
            f"set rate {target:,.0f}/s"
            if target is not None
            else f"the scenario's clock x{recording.speed:g}"
            if recording.speed is not None
            else "full speed"
        )
        return chart_from_figure(
            fig, key="sent-rate", title="Sent rate", rows=rows,
            caption=f"Events handed to the {recording.sink} sink each second ({pace}).",
        )  # fmt: skip


def _queue_note(recording: Recording) -> str:
    return f"Queue {recording.queue_note}." if recording.queue_note else ""


def _queue_axes(fig: Any, recording: Recording, ylabel: str) -> Axes:
    """:func:`_axes` for a chart of the queue, saying so inside it when the queue was never read."""
    ax = _axes(fig, recording.samples, ylabel)
    if recording.samples and all(s.queue is None for s in recording.samples):
        ax.text(0.5, 0.5, "queue not observed", transform=ax.transAxes, ha="center", va="center", color=FLAG_COLOR)
    return ax


def _depth_chart(recording: Recording) -> Chart:
    samples = recording.samples
    states = ("wait", "paused", "active", "delayed")
    with figure(_WIDTH, _HEIGHT) as fig:
        ax = _queue_axes(fig, recording, "jobs")
        seen = [s for s in samples if s.queue is not None]
        if seen:
            layers = [[float(getattr(s.queue, state)) for s in seen] for state in states]
            ax.stackplot([s.seconds for s in seen], layers, labels=states, alpha=0.85)
        _finish(ax)
        last = seen[-1].queue if seen else None
        rows = [Row(label=f"{state} at the end", expected=None, actual=None if last is None else
                    float(getattr(last, state))) for state in states]  # fmt: skip
        return chart_from_figure(
            fig, key="queue-depth", title="Queue depth", rows=rows, note=_queue_note(recording),
            caption=f"Jobs not finished on queue {recording.queue or '(not observed)'}, by state, stacked.",
        )  # fmt: skip


def _totals(ax: Axes, samples: Sequence[Sample], lines: dict[str, Callable[[Sample], float | None]]) -> None:
    """Running totals as lines; the last one is what should stay at 0 (drawn in the flag's colour)."""
    seconds = [s.seconds for s in samples]
    for index, (label, pick) in enumerate(lines.items()):
        color = FLAG_COLOR if index == len(lines) - 1 else None
        ax.plot(seconds, _values(samples, pick), label=label, color=color)
    _finish(ax)


def _total_rows(last: Sample | None, values: dict[str, Callable[[Sample], float | None]]) -> list[Row]:
    """The totals at the end; the last one is expected to be 0 and flagged when it is not."""
    rows = []
    for index, (label, pick) in enumerate(values.items()):
        actual = None if last is None else pick(last)
        must_be_zero = index == len(values) - 1 and actual is not None
        rows.append(Row(label=label, expected=0.0 if must_be_zero else None, actual=actual,
                        tolerance=0.0 if must_be_zero else None, flagged=must_be_zero and bool(actual)))  # fmt: skip
    return rows


def _finished_chart(recording: Recording) -> Chart:
    samples = recording.samples
    lines: dict[str, Callable[[Sample], float | None]] = {
        "finished (added - not finished)": lambda s: s.finished,
        "completed (held by Redis)": lambda s: None if s.queue is None else s.queue.completed,
        "failed": lambda s: None if s.queue is None else s.queue.failed,
    }
    with figure(_WIDTH, _HEIGHT) as fig:
        _totals(_queue_axes(fig, recording, "jobs"), samples, lines)
        last = next((s for s in reversed(samples) if s.queue is not None), None)
        return chart_from_figure(
            fig, key="finished-jobs", title="Completed and failed jobs", rows=_total_rows(last, lines),
            note=_queue_note(recording),
            caption="Totals since the queue began. Redis keeps the last 1,000 completed jobs (the API's "
            "removeOnComplete), so 'finished' counts Bull's jobs ever added minus those not finished.",
        )  # fmt: skip


def _worker_chart(recording: Recording) -> Chart:
    samples = recording.samples
    rates = [s.finish_rate for s in samples if s.finish_rate is not None]
    with figure(_WIDTH, _HEIGHT) as fig:
        ax = _queue_axes(fig, recording, "jobs per second")
        _rates(ax, samples, lambda s: s.sent_rate, color=EXPECTED_COLOR, label="sent")
        _rates(ax, samples, lambda s: s.finish_rate, label="finished by the worker")
        _finish(ax)
        busy = [rate for rate in rates if rate > 0]
        rows = [
            Row(label="peak worker rate", expected=None, actual=max(rates) if rates else None, unit="/s"),
            Row(label="mean while busy", expected=None, actual=sum(busy) / len(busy) if busy else None, unit="/s"),
        ]
        return chart_from_figure(
            fig, key="worker-rate", title="Worker completion rate", rows=rows, note=_queue_note(recording),
            caption="Jobs the workers finished (completed or failed for good) each second, beside the rate sent.",
        )  # fmt: skip


def _api_chart(recording: Recording) -> Chart:
    samples = recording.samples
    lines: dict[str, Callable[[Sample], float | None]] = {
        "accepted (2xx)": lambda s: s.accepted,
        "rejected (4xx)": lambda s: s.rejected,
        "gave up after retries": lambda s: s.gave_up,
    }
    with figure(_WIDTH, _HEIGHT) as fig:
        _totals(_axes(fig, samples, "events"), samples, lines)
        rows = _total_rows(samples[-1] if samples else None, lines)
        return chart_from_figure(fig, key="api-answers", title="API answers", rows=rows,
                                 caption="The API's answers so far (totals).")  # fmt: skip


def _verify_chart(recording: Recording) -> Chart:
    summary = recording.verify
    assert summary is not None
    figures = {
        "lost": summary.lost,
        "wrong": summary.wrong,
        "duplicated": summary.duplicated,
        "failed jobs": summary.failed_jobs,
    }
    with figure(_WIDTH, 2.2) as fig:
        ax = fig.subplots()
        labels = list(figures)
        heights = [float(v or 0) for v in figures.values()]
        colors = [FLAG_COLOR if v else EXPECTED_COLOR for v in figures.values()]
        ax.barh(labels, heights, color=colors)
        for y, value in enumerate(figures.values()):
            ax.text(0, y, f" {'not checked' if value is None else f'{value:,}'}", va="center")
        ax.invert_yaxis()
        ax.set_xlabel("events / jobs")
        ax.set_xlim(left=0, right=max(1.0, *heights) * 1.15)
        rows = [
            Row(label=label, expected=None if value is None else 0.0, actual=value,
                tolerance=None if value is None else 0.0, flagged=bool(value))
            for label, value in figures.items()
        ]  # fmt: skip
        checked = "not checked (no --dsn)" if summary.checked is None else f"{summary.checked:,} events checked"
        drained = {None: "not waited for", True: "drained", False: "NOT drained"}[summary.drained]
        return chart_from_figure(
            fig, key="verify", title=f"Verify: {'OK' if summary.ok else 'FAILED'}", rows=rows,
            caption=f"After the run: the queue {drained}; sales_signals {checked}.",
        )  # fmt: skip


def loadtest_sections(recording: Recording) -> list[Section]:
    """The charts of a recording, in the page's sections."""
    sending = [_sent_chart(recording)]
    if recording.sink == "http":
        sending.append(_api_chart(recording))
    sections = [
        Section(title="Sending", charts=sending, intro="What the tool sent, second by second."),
        Section(
            title="Queue and worker",
            charts=[_depth_chart(recording), _finished_chart(recording), _worker_chart(recording)],
            intro="Bull's counts read from Redis once a second (LLEN of the lists, ZCARD of the sorted sets).",
        ),
    ]
    if recording.verify is not None:
        sections.append(Section(title="Verify", charts=[_verify_chart(recording)],
                                intro="What the worker stored, checked against the worker's rules."))  # fmt: skip
    return sections


def _facts(recording: Recording) -> list[tuple[str, str]]:
    last = recording.samples[-1].seconds if recording.samples else 0.0
    pace = (
        f"{recording.target_rate:,.0f}/s"
        if recording.target_rate is not None
        else f"scenario clock x{recording.speed:g}"
        if recording.speed is not None
        else "full speed"
    )
    facts = [
        ("started", recording.started_at or "-"),
        ("recorded", f"{last:,.1f} s, {len(recording.samples):,} samples"),
        ("sent", f"{recording.sent:,} events to the {recording.sink} sink"),
        ("pace", pace),
        ("queue", recording.queue or "not observed"),
        ("stopped", recording.stopped_early or recording.stopped_by or "-"),
    ]
    if recording.verify is not None:
        facts.append(("verify", "OK" if recording.verify.ok else "FAILED"))
    return facts


def render_loadtest(recording: Recording) -> str:
    """The load test's page as one self-contained HTML string."""
    early = recording.stopped_early
    return render_page(
        title=f"Load test{': ' + recording.title if recording.title else ''}" + (" (stopped early)" if early else ""),
        subtitle=f"Stopped early ({early}): the charts show what was recorded until then." if early else "",
        facts=_facts(recording),
        sections=loadtest_sections(recording),
        expected="the run's set rate and a clean verify",
    )


def write_loadtest_report(path: Path, recording: Recording) -> Path:
    """Draw ``recording`` into the page at ``path``."""
    return write_page(path, render_loadtest(recording), option="--report")
