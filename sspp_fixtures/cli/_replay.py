"""``replay`` (a scenario's events onto the platform's queue or API, paced, recorded) and ``verify`` (the queue
drained, every signal stored right)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.live import Live
from rich.text import Text

from ..dsn import mask_text, resolve_dsn
from ..errors import ExitCode, SsppError, UsageError, WriteError
from ._app import cli
from ._db import json_option
from ._output import CliState

if TYPE_CHECKING:  # the engines load on first use
    from types import TracebackType

    from ..replay import (
        DrainReport,
        LiveStatus,
        QueueCounts,
        Recorder,
        ReplayOptions,
        ReplayReport,
        VerifyOutcome,
        VerifyReport,
    )

__all__: list[str] = []

_PLAIN_EVERY_S = 10.0
_REDIS_SCHEMES = ("redis://", "rediss://")


class _LiveLine:
    """One status line: redrawn in place on a terminal, printed every 10 s otherwise (logs stay short)."""

    def __init__(self, console: Console, live: Live | None) -> None:
        self._console = console
        self._live = live
        self._next_plain = time.monotonic() + _PLAIN_EVERY_S

    def show(self, text: str) -> None:
        if self._live is not None:
            self._live.update(Text(text))
        elif time.monotonic() >= self._next_plain:
            self._console.print(text, markup=False)
            self._next_plain = time.monotonic() + _PLAIN_EVERY_S


@contextmanager
def _live_line(console: Console) -> Iterator[_LiveLine]:
    if not console.is_terminal:
        yield _LiveLine(console, None)
        return
    with Live(Text(""), console=console, refresh_per_second=4, transient=False) as live:
        yield _LiveLine(console, live)


def _depth(counts: QueueCounts | None) -> str:
    if counts is None:
        return ""
    paused = f" paused {counts.paused:,}" if counts.paused else ""
    return (
        f"  queue: wait {counts.wait:,}{paused} active {counts.active:,} completed {counts.completed:,} "
        f"failed {counts.failed:,}"
    )


def _rate_value(text: str | None) -> float | None:
    if text is None:
        return None
    number = text.strip().lower().removesuffix("/s").strip()
    try:
        rate = float(number.replace("_", "").replace(",", ""))
    except ValueError:
        raise UsageError(f"--rate {text!r}: expected events per second, e.g. 1000 or 1000/s") from None
    if not rate > 0 or rate > 10_000_000:
        raise UsageError(f"--rate {text!r}: expected a rate above 0 and at most 10,000,000/s")
    return rate


def _replay_json(report: ReplayReport) -> dict[str, Any]:
    manifest = report.manifest.to_json()
    manifest.pop("url", None)
    return {
        **manifest,
        "manifest": str(report.manifest_path) if report.manifest_path else None,
        "prepare_seconds": round(report.prepare_s, 3),
        "send_seconds": round(report.send_s, 3),
        "rate": round(report.rate, 1),
    }


def _render_replay(console: Console, report: ReplayReport) -> None:
    m, d = report.manifest, report.delivery
    console.print(
        f"sent {m.sent:,} events of {m.scenario_name} (seed {m.seed}) to {m.target}"
        f"{' queue ' + m.queue if m.queue else ''} in {report.send_s:.1f}s: {report.rate:,.0f}/s "
        f"({m.stopped_by}; prepared in {report.prepare_s:.1f}s)"
    )
    if d.kind == "redis":
        ids = ", ".join(f"{a}-{b}" for a, b in d.job_ids[:5]) + (" ..." if len(d.job_ids) > 5 else "")
        console.print(f"jobs {ids or 'none'}")
        if d.paused:
            console.print("the queue is PAUSED: the jobs wait in its paused list until the queue is resumed")
    else:
        console.print(
            f"accepted {d.accepted:,}; invalid events rejected as expected {d.rejected_as_expected:,}; "
            f"valid events rejected {len(d.rejected):,}; invalid events accepted {len(d.accepted_invalid):,}; "
            f"gave up {len(d.failed):,}; retries {d.retries:,}"
        )
        for seq, status, message in d.rejected[:20]:
            console.print(f"  rejected #{seq}: {status} {message}", markup=False)
        for seq, kind in d.accepted_invalid[:20]:
            console.print(f"  accepted although invalid #{seq}: {kind}", markup=False)
        for seq, reason in d.failed[:20]:
            console.print(f"  gave up #{seq}: {reason}", markup=False)
    if m.invalid:
        console.print("invalid events sent: " + ", ".join(f"{kind} {n:,}" for kind, n in m.invalid.items()))
    console.print(f"record: {report.manifest_path}")


def _drain_json(drain: DrainReport) -> dict[str, Any]:
    return {
        "drained": drain.drained,
        "seconds": round(drain.seconds, 2),
        "counts": vars(drain.counts),
        "paused": drain.paused,
        "consumer_rate": None if drain.consumer_rate is None else round(drain.consumer_rate, 1),
        "consumer_sample": drain.consumer_sample,
        "failed": drain.failed,
    }


def _signals_json(report: VerifyReport) -> dict[str, Any]:
    return {
        "database": report.database,
        "checked": report.checked,
        "lost": report.lost,
        "wrong": report.wrong,
        "duplicated": report.duplicated,
        "other_rows": report.other_rows,
        "lost_rows": report.lost_rows,
        "wrong_rows": report.wrong_rows,
        "duplicated_rows": report.duplicated_rows,
    }


def _outcome_json(outcome: VerifyOutcome) -> dict[str, Any]:
    return {
        "ok": outcome.ok,
        "queue": None if outcome.drain is None else _drain_json(outcome.drain),
        "signals": None if outcome.signals is None else _signals_json(outcome.signals),
    }


def _render_outcome(console: Console, outcome: VerifyOutcome) -> None:
    drain = outcome.drain
    if drain is not None:
        state = "drained" if drain.drained else f"NOT drained after {drain.seconds:.0f}s"
        if not drain.drained and drain.paused:
            state += " (the queue is paused)"
        rate = "" if drain.consumer_rate is None else f"; consumer {drain.consumer_rate:,.0f} jobs/s"
        sample = f" (last {drain.consumer_sample:,} completed jobs, by finishedOn)" if rate else ""
        console.print(f"queue {state}{rate}{sample}; {len(drain.failed):,} failed")
        for job_id, reason, attempts in drain.failed[:50]:
            console.print(f"  job {job_id} failed after {attempts} attempts: {reason}", markup=False)
    signals = outcome.signals
    if signals is not None:
        console.print(f"{signals.database}: {signals.summary()}; {signals.other_rows:,} other rows since the run")
        for row in signals.lost_rows[:20]:
            console.print(f"  lost #{row['seq']}: {row}", markup=False)
        for row in signals.wrong_rows[:20]:
            console.print(f"  wrong #{row['seq']}: {row}", markup=False)
        for row in signals.duplicated_rows[:20]:
            console.print(f"  duplicated #{row['seq']}: {row}", markup=False)
    console.print("OK" if outcome.ok else "FAILED")


def _why_stopped(error: BaseException) -> str:
    from ._app import Terminated

    if isinstance(error, Terminated):
        return "terminated (SIGTERM)"
    if isinstance(error, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    return f"failed: {error}" if isinstance(error, SsppError) else f"failed: {type(error).__name__}"


def _check_writable(path: Path) -> None:
    """Refuse a page that could not be written, before the run rather than after it."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WriteError(f"cannot create {folder} for the report: {error.strerror or error}",
                         hint="choose a writable path with --report") from None  # fmt: skip
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise WriteError(f"cannot write the report to {path}: permission denied",
                         hint="choose a writable path with --report")  # fmt: skip


class _Recording:
    """``--report``: the recorder around a run, and the page drawn when the run ends, however it ends (a Ctrl-C or
    an error still draws what was recorded, marked as stopped early, then goes on as it would have)."""

    def __init__(self, state: CliState, path: Path | None, recorder: Recorder | None) -> None:
        self.state = state
        self.path = path
        self.recorder = recorder
        self._stopped_by = "interrupted"
        self._doing = "while sending"
        self._done = False

    @classmethod
    def open(
        cls,
        state: CliState,
        path: Path | None,
        scenario: str,
        to: str,
        queue: str,
        redis_url: str | None,
        options: ReplayOptions,
    ) -> _Recording:
        if path is None:
            return cls(state, None, None)
        from ..replay import open_recorder
        from ..report import require_matplotlib

        require_matplotlib()  # before the run, not after it
        _check_writable(path)
        recorder = open_recorder(to, queue=queue, redis_url=redis_url, target_rate=options.rate, speed=options.speed)
        shown = mask_text(to, to, *([redis_url] if redis_url else []))
        recorder.recording.title = f"{scenario} to {shown}" + (f" queue {queue}" if recorder.recording.queue else "")
        return cls(state, path, recorder)

    def __enter__(self) -> _Recording:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if error is None or self.recorder is None or self._done:
            return
        if not self.recorder.started:  # stopped before the first event went: nothing to draw
            self.recorder.stop()
            return
        try:
            page = self._draw(stopped_early=f"{_why_stopped(error)} {self._doing}")
        except SsppError as failure:  # the run's own error is the one to show
            self.state.problem(f"the report was not written: {failure}")
        else:
            self.state.info(f"report (stopped early): {page}")

    def sent(self, report: ReplayReport, *, waiting: bool) -> None:
        """Sending is over; with ``waiting``, the queue's draining is recorded next."""
        self._stopped_by = report.manifest.stopped_by
        if self.recorder is not None and waiting:
            self.recorder.waiting()
            self._doing = "while waiting for the queue to drain"

    def verified(self, outcome: VerifyOutcome) -> None:
        if self.recorder is not None:
            from ..replay._record import VerifySummary

            self.recorder.recording.verify = VerifySummary.of(outcome)

    def finish(self) -> Path | None:
        """Draw the page of a run that ended as planned; its path, or None without --report."""
        return None if self.recorder is None else self._draw(stopped_early="")

    def _draw(self, *, stopped_early: str) -> Path:
        assert self.recorder is not None
        assert self.path is not None
        from ..replay._record import write_samples
        from ..report import write_loadtest_report

        self._done = True
        recording = self.recorder.stop(stopped_by=self._stopped_by, stopped_early=stopped_early)
        page = write_loadtest_report(self.path, recording)
        stem = self.path.with_suffix("")
        write_samples(
            recording, stem.with_name(stem.name + ".samples.json"), stem.with_name(stem.name + ".samples.csv")
        )
        return page


_worker_tz_option = click.option(
    "--worker-tz",
    default="UTC",
    show_default=True,
    metavar="ZONE",
    help="The worker's time zone (it stores times in it: node-postgres writes local time into TIMESTAMP).",
)
_timeout_option = click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0),
    default=600,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for the queue to drain.",
)


def _verify_live(line: _LiveLine) -> Any:
    def show(counts: QueueCounts, seconds: float) -> None:
        line.show(f"waiting {seconds:5.0f}s{_depth(counts)}")

    return show


@cli.command("replay")
@click.argument("scenario")
@click.option("--to", "to", required=True, metavar="URL", help="redis://[:PASS@]HOST:6379[/DB] or the API's URL.")
@click.option("--queue", default="sales-events", show_default=True, help="Bull queue name (the platform's QUEUE_NAME).")
@click.option("--seed", type=click.IntRange(min=0), help="Override the scenario's seed.")
@click.option("--scale", type=float, help="Multiply the scenario's customer and event counts.")
@click.option(
    "--time",
    "time_mode",
    type=click.Choice(["scenario", "now"]),
    default="scenario",
    show_default=True,
    help="Keep the scenario's timestamps, or shift them so its last event is now.",
)
@click.option("--rate", "rate_text", metavar="N[/s]", help="Send at a steady N events per second.")
@click.option("--speed", type=float, metavar="X", help="Follow the scenario's own clock X times faster.")
@click.option("--count", type=click.IntRange(min=1), help="Send at most this many events.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS", help="Stop after this.")
@click.option("--invalid", "invalid_share", type=float, default=0.0, metavar="SHARE", help="Share of events the API "
              "must reject (HTTP only), e.g. 0.05.")  # fmt: skip
@click.option(
    "--concurrency", type=click.IntRange(1, 256), default=16, show_default=True, help="HTTP requests in flight."
)
@click.option("--purge", is_flag=True, help="Delete the queue's jobs first (only a queue this tool created).")
@click.option("--force", is_flag=True, help="With --purge: purge a queue this tool did not create.")
@click.option("--manifest", "manifest_path", type=click.Path(path_type=Path), help="Where to record the run.")
@click.option("--wait", "wait", is_flag=True, help="Then wait for the queue to drain and report (see verify).")
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Draw the run (rate, queue depth, the worker's rate, verify's outcome) into this HTML page; the samples "
    "go beside it as NAME.samples.json and NAME.samples.csv. Needs the report extra (matplotlib).",
)
@click.option(
    "--redis", "redis_url", metavar="URL", help="With --to the API: the queue's Redis, for --report and --wait."
)
@_timeout_option
@click.option("--dsn", metavar="URL", help="With --wait: check the worker's sales_signals in this database.")
@_worker_tz_option
@json_option
@click.pass_obj
def replay_command(
    state: CliState,
    scenario: str,
    to: str,
    queue: str,
    seed: int | None,
    scale: float | None,
    time_mode: str,
    rate_text: str | None,
    speed: float | None,
    count: int | None,
    duration: float | None,
    invalid_share: float,
    concurrency: int,
    purge: bool,
    force: bool,
    manifest_path: Path | None,
    wait: bool,
    report_path: Path | None,
    redis_url: str | None,
    timeout_s: float,
    dsn: str | None,
    worker_tz: str,
    as_json: bool,
) -> int:
    """Send SCENARIO's platform events (email_sent ... demo_completed) to the platform, in timestamp order.

    \b
    --to redis://HOST:6379   jobs on the Bull queue, exactly as the API adds them (one atomic script per batch)
    --to http://HOST:3000/api/v1/events   POSTed through the API (keep-alive, --concurrency in flight,
                             4xx counted with the API's message, 5xx retried)
    Full speed unless --rate or --speed. The run is recorded (--manifest, default in the cache folder) so that
    `sspp-seed verify` can check it later; with --wait it waits for the worker and checks at once.
    --report PAGE.html samples the run once a second (and the queue, on --to's Redis or --redis) and draws it
    at the end, also when stopped with Ctrl-C.
    A paused queue keeps the jobs until resumed (said so). --purge empties only a queue this tool created.

    \b
    Examples:
      sspp-seed replay demo --to redis://localhost:6379 --rate 500 --time now
      sspp-seed replay load-1m --to redis://localhost:6379 --count 200000 --wait --dsn "$DATABASE_URL"
      sspp-seed replay demo --to http://localhost:3000/api/v1/events --rate 200 --invalid 0.05
      sspp-seed replay load-1m --to redis://localhost:6379 --rate 600 --duration 300 --wait --report run.html
    """
    from ..replay import ReplayOptions, replay

    options = ReplayOptions(
        time=time_mode,
        rate=_rate_value(rate_text),
        speed=speed,
        count=count,
        duration_s=duration,
        invalid_share=invalid_share,
    )
    if dsn is not None and not wait:
        raise UsageError("--dsn checks the database after --wait", hint="add --wait, or run sspp-seed verify later")
    if redis_url is not None and to.lower().startswith(_REDIS_SCHEMES):
        raise UsageError("--redis is for a run through the API", hint="--to names the queue's Redis already")
    recording = _Recording.open(state, report_path, scenario, to, queue, redis_url, options)
    with recording:
        with _live_line(state.err) as line:

            def show(status: LiveStatus) -> None:
                line.show(f"sent {status.sent:>12,}  {status.rate:>9,.0f}/s{_depth(status.counts)}")

            def prepared(events: Any, seconds: float) -> None:
                line.show(f"{events.count:,} platform events in timestamp order ({seconds:.1f}s); sending")

            report = replay(
                scenario,
                to,
                queue=queue,
                seed=seed,
                scale=scale,
                options=options,
                concurrency=concurrency,
                purge=purge,
                force=force,
                manifest_path=manifest_path,
                live=show,
                prepared=prepared,
                recorder=recording.recorder,
            )
        recording.sent(report, waiting=wait)
        outcome = None
        if wait:
            outcome = _verify(state, report.manifest, redis_url or to, dsn, True, timeout_s, worker_tz)
            recording.verified(outcome)
        data = _replay_json(report)
        if outcome is not None:
            data["verify"] = _outcome_json(outcome)
        page = recording.finish()
    if page is not None:
        data["report"] = str(page)

    def render(console: Console) -> None:
        _render_replay(console, report)
        if outcome is not None:
            _render_outcome(console, outcome)
        if page is not None:
            console.print(f"report: {page}", markup=False)

    state.emit(as_json, data, render)
    delivery = report.delivery
    if delivery.rejected or delivery.failed or delivery.accepted_invalid or (outcome is not None and not outcome.ok):
        return ExitCode.USER_ERROR
    return ExitCode.OK


def _verify(
    state: CliState, manifest: Any, to: str | None, dsn: str | None, wait: bool, timeout_s: float, worker_tz: str
) -> VerifyOutcome:
    from ..replay import verify

    redis_url = next((url for url in (to, manifest.url) if url and url.lower().startswith(_REDIS_SCHEMES)), None)
    if wait and redis_url is None:
        wait = False
        state.info("not waiting for the queue: its Redis is not known; pass verify --to redis://HOST:6379 to wait")
    with _live_line(state.err) as line:
        return verify(
            manifest,
            dsn=dsn,
            to=redis_url,
            wait=wait,
            timeout_s=timeout_s,
            worker_tz=worker_tz,
            live=_verify_live(line),
        )


@cli.command("verify")
@click.option("--manifest", "manifest_path", type=click.Path(path_type=Path), help="The run (default: the newest).")
@click.option("--to", "to", metavar="URL", help="The queue's Redis (default: the run's, when it held no password).")
@click.option("--dsn", metavar="URL", help="The worker's database, to check sales_signals (default: $DATABASE_URL).")
@click.option("--no-wait", "no_wait", is_flag=True, help="Do not wait for the queue; check what is there now.")
@_timeout_option
@_worker_tz_option
@json_option
@click.pass_obj
def verify_command(
    state: CliState,
    manifest_path: Path | None,
    to: str | None,
    dsn: str | None,
    no_wait: bool,
    timeout_s: float,
    worker_tz: str,
    as_json: bool,
) -> int:
    """Check a replay end to end: the queue drained (consumer rate, every failed job's reason), then every event
    sent has exactly one sales_signals row with the type and score the worker's rules give.

    \b
    The events are regenerated from the run's record (scenario, seed, plan): nothing is stored per event.
    Exit codes: 0 all there and right, 1 something lost, wrong, duplicated, failed or not drained.

    \b
    Examples:
      sspp-seed verify --dsn postgresql://postgres@localhost/sales_signals
      sspp-seed verify --manifest run.json --to redis://:PASS@localhost:6379 --timeout 120 --json
    """
    from ..replay import Manifest, latest_manifest

    manifest = Manifest.read(manifest_path or latest_manifest())
    outcome = _verify(state, manifest, to, resolve_dsn(dsn), not no_wait, timeout_s, worker_tz)
    data = {
        "manifest": str(manifest_path or latest_manifest()),
        "checked_at": datetime.now(UTC),
        **_outcome_json(outcome),
    }
    state.emit(as_json, data, lambda console: _render_outcome(console, outcome))
    return ExitCode.OK if outcome.ok else ExitCode.USER_ERROR
