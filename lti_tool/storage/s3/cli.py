"""S3 set-up commands (`flask --app wsgi storage s3-...`)."""
from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from lti_tool.settings import read_setting
from lti_tool.storage.cli import backend_by_name, fail, public_origin

S3 = "s3"  # the backend's registry name (boto3 loads on use)


def recommended_cors(origin: str) -> dict:
    """Return the bucket CORS configuration browser uploads from `origin` need."""
    return {"CORSRules": [{"AllowedOrigins": [origin], "AllowedMethods": ["GET", "PUT", "HEAD"],
                           "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"],
                           "MaxAgeSeconds": 3000}]}


@click.command("s3-check-cors")
@with_appcontext
@click.option("--origin", default="", help="The tool's origin, e.g. https://video.example.edu "
                                           "(default: from PUBLIC_BASE_URL).")
def s3_check_cors(origin: str):
    """Check the bucket lets browsers upload parts and read their ETag."""
    origin = origin or public_origin()
    if not origin:
        raise click.ClickException("Pass --origin or set PUBLIC_BASE_URL.")
    if not read_setting(current_app.config, "S3_BUCKET", ""):
        raise click.ClickException("S3_BUCKET is not set.")
    try:
        problems = backend_by_name(S3).cors_problems(origin)
    except Exception as exc:  # noqa: BLE001
        fail(exc)
    if not problems:
        click.echo(f"CORS ok: {origin} may upload parts and read their ETag.")
        return
    click.echo("The bucket's CORS is not ready for browser uploads:")
    for problem in problems:
        click.echo(f"  - {problem}")
    click.echo("Apply this configuration (aws s3api put-bucket-cors --bucket <bucket> "
               "--cors-configuration file://cors.json):")
    click.echo(json.dumps(recommended_cors(origin), indent=2))
    raise SystemExit(1)


COMMANDS = (s3_check_cors,)
