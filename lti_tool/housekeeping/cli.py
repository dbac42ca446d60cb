"""Operator commands for the kept reports: `flask --app wsgi reports usage`."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from lti_tool.housekeeping.usage import report_csv, stored_report


@click.group("reports", cls=AppGroup)
def reports_cli():
    """Download the kept reports of the background jobs."""


@reports_cli.command("usage")
@click.option("--period", help="The month, YYYY-MM (default: the newest report).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="Write the CSV to this file (default: standard output).")
def usage(period: str | None, output: str | None):
    """Write a monthly usage report (uploads, minutes stored and played, cost per course) as
    CSV."""
    run = stored_report(period)
    if run is None:
        raise click.ClickException(
            "No usage report" + (f" for {period}" if period else "") + " was kept yet; "
            "make one now with `flask --app wsgi jobs run usage_report`.")
    text = report_csv(run.counts)
    if output:
        with open(output, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        click.echo(f"Usage report for {run.counts['period']} written to {output}.", err=True)
    else:
        sys.stdout.write(text)
