"""Operator commands for the scheduled jobs: `flask --app wsgi jobs list|run`.

For sites that prefer cron to the in-process scheduler (SCHEDULER_ENABLED=0): a crontab line
`flask --app wsgi jobs run retention` runs the job under the same lease as the scheduler
would, and records the run the same way.
"""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from lti_tool import jobs
from lti_tool.web.formatting import format_moment


@click.group("jobs", cls=AppGroup)
def jobs_cli():
    """List the scheduled jobs and their last runs; run one now."""


def describe_run(run) -> str:
    """Say in one line how a run went."""
    if run is None:
        return "never run"
    if run.ok is None:
        return "running"
    outcome = "ok" if run.ok else f"FAILED ({run.error})"
    dry = " (dry run)" if run.dry_run else ""
    # Lists (a dry run's videos, orphans) are summed up here; `jobs run` prints them whole.
    summary = {key: f"{len(value)} listed" if isinstance(value, (list, dict)) else value
               for key, value in (run.counts or {}).items()}
    counts = json.dumps(summary, sort_keys=True, default=str)
    if len(counts) > 300:
        counts = counts[:297] + "..."
    return f"{outcome}{dry} in {run.duration_seconds or 0:.1f} s: {counts}"


@jobs_cli.command("list")
def list_jobs():
    """Show every job: its schedule, last run and result."""
    last = jobs.last_runs()
    for job in jobs.JOBS:
        run = last.get(job.name)
        when = format_moment(run.started_at) if run else "-"
        click.echo(f"{job.name:<22} {job.schedule():<30} {when:<22} {describe_run(run)}")


@jobs_cli.command("run")
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="Report what the job would do; change nothing.")
def run_job(name: str, dry_run: bool):
    """Run the job NAME now, under its lease, and record the run."""
    job = jobs.find_job(name)
    if job is None:
        raise click.ClickException(
            f"No job called {name!r}. Jobs: {', '.join(j.name for j in jobs.JOBS)}.")
    if dry_run and not job.dry_run:
        raise click.ClickException(f"Job {job.name} has no dry run.")
    try:
        run = jobs.run_now(job, dry_run=dry_run)
    except jobs.LeaseHeld:
        raise click.ClickException(
            f"Job {job.name} is running in another process now; try again later.") from None
    click.echo(f"{job.name}: {describe_run(run)}")
    for key, value in (run.counts or {}).items():
        if isinstance(value, (list, dict)) and value:
            click.echo(f"{key}:")
            for item in value if isinstance(value, list) else value.items():
                click.echo("  " + json.dumps(item, sort_keys=True, default=str))
    if not run.ok:
        raise SystemExit(1)
