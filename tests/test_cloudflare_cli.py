"""`flask storage cloudflare-*`: signing key and webhook set-up through the (faked) API."""
from __future__ import annotations

import json
import logging

import pytest
import responses

from lti_tool.extensions import db
from lti_tool.models import Setting
from lti_tool.settings import get_setting

from . import cloudflare_fake as cf


@pytest.fixture
def app_config(app_config):
    app_config.update(cf.settings(PUBLIC_BASE_URL="https://video.example.edu"))
    return app_config


def test_create_signing_key_prints_the_settings_without_logging_the_key(runner, caplog):
    with responses.RequestsMock() as api, caplog.at_level(logging.DEBUG):
        api.add(responses.POST, f"{cf.STREAM}/keys", json=cf.envelope(
            {"id": "8f926b2b01f383510025a78a4dcbf6a", "pem": cf.private_pem_b64(),
             "jwk": "eyJ...", "created": "2026-01-01T00:00:00Z"}))
        result = runner.invoke(args=["storage", "cloudflare-create-signing-key"])
    assert result.exit_code == 0, result.output
    assert "CLOUDFLARE_SIGNING_KEY_ID=8f926b2b01f383510025a78a4dcbf6a" in result.output
    assert f"CLOUDFLARE_SIGNING_KEY_PEM={cf.private_pem_b64()}" in result.output
    assert cf.private_pem_b64() not in caplog.text


def test_create_signing_key_can_save_it_encrypted(app, runner):
    with responses.RequestsMock() as api:
        api.add(responses.POST, f"{cf.STREAM}/keys", json=cf.envelope(
            {"id": "key-9", "pem": cf.private_pem_b64()}))
        result = runner.invoke(args=["storage", "cloudflare-create-signing-key", "--save"])
    assert result.exit_code == 0, result.output
    assert cf.private_pem_b64() not in result.output
    with app.app_context():
        row = db.session.get(Setting, "CLOUDFLARE_SIGNING_KEY_PEM")
        assert row.encrypted and cf.private_pem_b64() not in row.value
        assert get_setting("CLOUDFLARE_SIGNING_KEY_PEM") == cf.private_pem_b64()
        assert get_setting("CLOUDFLARE_SIGNING_KEY_ID") == "key-9"


def test_set_webhook_points_at_our_endpoint_and_shows_the_secret(runner):
    with responses.RequestsMock() as api:
        api.add(responses.PUT, f"{cf.STREAM}/webhook", json=cf.envelope(
            {"notificationUrl": "https://video.example.edu/webhooks/cloudflare-stream",
             "modified": "2026-01-01T00:00:00Z", "secret": "85011ed3a913c6ad5f9cf6c5573cc0a7"}))
        result = runner.invoke(args=["storage", "cloudflare-set-webhook"])
        sent = json.loads(api.calls[0].request.body)
    assert result.exit_code == 0, result.output
    assert sent == {"notificationUrl": "https://video.example.edu/webhooks/cloudflare-stream"}
    assert "CLOUDFLARE_WEBHOOK_SECRET=85011ed3a913c6ad5f9cf6c5573cc0a7" in result.output


def test_refusal_is_a_clear_command_error(runner):
    with responses.RequestsMock() as api:
        api.add(responses.POST, f"{cf.STREAM}/keys", status=403, json=cf.envelope(
            None, False, [{"code": 10000, "message": "Authentication error"}]))
        result = runner.invoke(args=["storage", "cloudflare-create-signing-key"])
    assert result.exit_code == 1
    assert "not set up correctly" in result.output
    assert cf.TOKEN not in result.output


def test_health_reports_the_configured_backend(runner):
    with responses.RequestsMock() as api:
        api.add(responses.GET, f"{cf.STREAM}/storage-usage", json=cf.envelope(
            {"totalStorageMinutes": 10, "totalStorageMinutesLimit": 1000}))
        result = runner.invoke(args=["storage", "health"])
    assert result.exit_code == 0 and "cloudflare: ok" in result.output
