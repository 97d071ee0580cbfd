"""`flask jobs run NAME [--date YYYY-MM-DD]`: any job by hand, in this process, recorded like a worker's run."""
from __future__ import annotations

import importlib
import sys
from datetime import date

import click
from flask.cli import AppGroup

from app import clock
from app import jobs as jobs_runtime
from app.schedule import JOBS, PERIODIC

jobs_cli = AppGroup("jobs", help="Background jobs: run one by hand, list them, queue one.")


def _job_function(name: str):
    """The job's entry point by its declared dotted path, as an RQ worker finds it."""
    module_name, _, func_name = JOBS[name].path.rpartition(".")
    return getattr(importlib.import_module(module_name), func_name)


def _parse_day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    if JOBS[name].arg is None:  # it works on the state of now (due lots, pending messages): a date would lie
        raise click.BadParameter(f"{name} runs on what is due now and takes no date", param_hint="--date")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("expected YYYY-MM-DD", param_hint="--date") from None
    if day > clock.business_today():
        raise click.BadParameter("a run cannot be for a future business day", param_hint="--date")
    return day


@jobs_cli.command("run")
@click.argument("name", type=click.Choice(sorted(JOBS)))
@click.option("--date", "day", default=None, help="business date YYYY-MM-DD the run is for (default: today)")
def run(name: str, day: str | None) -> None:
    """Run one job now, in this process (a progress bar on a terminal)."""
    func = _job_function(name)
    kwargs = jobs_runtime.job_kwargs(name, _parse_day(day, name))
    bar = None
    if sys.stdout.isatty():
        bar = click.progressbar(length=1, label=name, show_pos=True)
        bar.__enter__()

    def show(counts: dict, total: int | None) -> None:
        if bar is None:
            return
        bar.label = f"{name}: changed {counts['changed']}, skipped {counts['skipped']}, failed {counts['failed']}"
        bar.length = max(total or 0, counts["scanned"], 1)  # jobs that cannot know their total grow the bar
        bar.update(counts["scanned"] - bar.pos)

    token = jobs_runtime.on_progress(show)
    try:
        result = func(**kwargs)
    finally:
        jobs_runtime.stop_progress(token)
        if bar is not None:
            bar.__exit__(None, None, None)
    counts = jobs_runtime.clean_counts(result)
    click.echo(f"{name}: " + ", ".join(f"{key} {value}" for key, value in counts.items()))


@jobs_cli.command("enqueue")
@click.argument("name", type=click.Choice(sorted(JOBS)))
@click.option("--date", "day", default=None, help="business date YYYY-MM-DD the run is for (default: today)")
def enqueue(name: str, day: str | None) -> None:
    """Queue one run for the workers under its deterministic id (refused if already queued)."""
    job = jobs_runtime.enqueue(name, _parse_day(day, name))
    if job is None:
        raise click.ClickException(f"{name} for that period is already queued")
    click.echo(f"queued {job.id} on {JOBS[name].queue}")


@jobs_cli.command("list")
def list_jobs() -> None:
    """Every job, its queue and its schedule (cron strings are UTC)."""
    crons = dict(PERIODIC)
    for name, spec in sorted(JOBS.items()):
        click.echo(f"{name:32} {spec.queue:8} {crons.get(name, 'by hand'):16} {spec.path}")


commands = [jobs_cli]
