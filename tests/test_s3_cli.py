"""`flask storage s3-check-cors` against moto's S3 server."""
from __future__ import annotations

import json

from .s3_server import admin_client, app_config, cors_rules, moto_server, s3_bucket  # noqa: F401

ORIGIN = "https://video.example.edu"


def test_check_cors_explains_what_to_apply(runner):
    result = runner.invoke(args=["storage", "s3-check-cors", "--origin", ORIGIN])
    assert result.exit_code == 1
    assert f"no CORS rule allows the origin {ORIGIN}" in result.output
    suggested = json.loads(result.output[result.output.index("{"):])
    assert suggested["CORSRules"][0]["ExposeHeaders"] == ["ETag"]


def test_check_cors_passes_with_the_recommended_rules(runner, moto_server, s3_bucket):
    admin_client(moto_server).put_bucket_cors(Bucket=s3_bucket,
                                              CORSConfiguration=cors_rules(ORIGIN))
    result = runner.invoke(args=["storage", "s3-check-cors", "--origin", ORIGIN])
    assert result.exit_code == 0, result.output
    assert "CORS ok" in result.output


def test_health_reports_the_bucket(runner):
    result = runner.invoke(args=["storage", "health"])
    assert result.exit_code == 0 and "s3: ok" in result.output
