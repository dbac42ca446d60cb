"""The settings page's video storage: the backend and its credentials saved over the
environment and used at once, secrets encrypted, masked, never sent back nor logged nor
audited by value; and the encryption key's rotation."""
from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.fernet import Fernet

from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import AuditEvent, Setting
from lti_tool.settings import get_setting, set_setting
from lti_tool.storage import current_storage
from lti_tool.uploads.limits import KNOWN_FORMATS
from tests.admin_fixtures import operator, site, text  # noqa: F401  (fixtures)

SECRET = "s3-secret-value-never-shown-9f83"
# The page's other fields as they are (unchanged), so only the storage changes.
SITE_FORM = {"RETENTION_DAYS": "90", "MAX_UPLOAD_BYTES": "5",
             "DEFAULT_UPLOAD_BYTES": "0", "ACCEPTED_FORMATS": list(KNOWN_FORMATS),
             "SUPPORT_CONTACT": "", "TARGET_UPLOAD_SUCCESS_PERCENT": "95",
             "TARGET_PLAYBACK_SUCCESS_PERCENT": "98", "TARGET_ERROR_PERCENT": "1"}
S3_FORM = {**SITE_FORM, "STORAGE_BACKEND": "s3", "S3_BUCKET": "videos-alpha",
           "S3_REGION": "eu-west-1",
           "S3_ENDPOINT_URL": "", "S3_ACCESS_KEY_ID": "AKIAEXAMPLEKEY01",
           "S3_SECRET_ACCESS_KEY": SECRET}


def _changes():
    return [e.data for e in db.session.scalars(
        db.select(AuditEvent).filter_by(event_type=EventType.SETTING_CHANGED))]


@pytest.mark.parametrize("who", ["instructor", "student"])
def test_only_admins_see_the_storage_and_only_operators_test_it(client, site, who):
    assert site.get(client, "/admin/settings", who=who).status_code == 403
    assert site.post(client, "/admin/settings/test", who=who,
                     data={"STORAGE_BACKEND": "local"}).status_code == 403


def test_an_lms_admin_sees_which_storage_but_none_of_its_settings(app, client, site):
    app.config.update(S3_BUCKET="env-bucket-name", S3_ACCESS_KEY_ID="AKIAENVIRONMENT1")
    assert site.post(client, "/admin/settings/test",
                     data={"STORAGE_BACKEND": "local"}).status_code == 403
    page = text(site.get(client, "/admin/settings"))
    assert "New videos are stored on: <strong>This server&#39;s disk</strong>" in page
    assert "Test connection" not in page and "S3_BUCKET" not in page
    assert "env-bucket-name" not in page and "AKIAENVIRONMENT1" not in page


def test_saved_storage_overrides_the_environment_and_is_used_at_once(app, client, operator,
                                                                      caplog):
    assert current_storage().name == "local"
    resp = operator.post(client, "/admin/settings", data=S3_FORM)
    assert resp.status_code == 303
    db.session.expire_all()
    assert get_setting("STORAGE_BACKEND") == "s3" and app.config["STORAGE_BACKEND"] == "local"
    backend = current_storage()
    assert backend.name == "s3" and backend.bucket == "videos-alpha"
    assert backend.setting("S3_SECRET_ACCESS_KEY") == SECRET
    row = db.session.get(Setting, "S3_SECRET_ACCESS_KEY")
    assert row.encrypted and SECRET not in row.value
    # Audited by name only: no value of any storage setting.
    changes = _changes()
    assert {c["setting"] for c in changes} == {"STORAGE_BACKEND", "S3_BUCKET", "S3_REGION",
                                              "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"}
    assert all("value" not in c for c in changes)
    assert SECRET not in caplog.text
    # Switching back sends new uploads to the disk again.
    operator.post(client, "/admin/settings", data=dict(S3_FORM, STORAGE_BACKEND="local",
                                                       S3_SECRET_ACCESS_KEY=""))
    db.session.expire_all()
    assert current_storage().name == "local"


def test_a_secret_is_shown_as_set_never_sent_back(client, operator):
    operator.post(client, "/admin/settings", data=S3_FORM)
    page = text(operator.get(client, "/admin/settings"))
    assert SECRET not in page and SECRET[-4:] not in page
    assert 'type="password" name="S3_SECRET_ACCESS_KEY" value=""' in page
    assert "Set on this page (stored encrypted)" in page
    assert 'value="videos-alpha"' in page  # not a secret: shown


def test_an_empty_secret_keeps_the_stored_one_and_the_box_forgets_it(app, client, operator):
    operator.post(client, "/admin/settings", data=S3_FORM)
    before = len(_changes())
    operator.post(client, "/admin/settings", data=dict(S3_FORM, S3_SECRET_ACCESS_KEY=""))
    db.session.expire_all()
    assert get_setting("S3_SECRET_ACCESS_KEY") == SECRET and len(_changes()) == before
    app.config["S3_SECRET_ACCESS_KEY"] = "from-the-environment"
    operator.post(client, "/admin/settings", data=dict(
        S3_FORM, S3_SECRET_ACCESS_KEY="", S3_SECRET_ACCESS_KEY__clear="1"))
    db.session.expire_all()
    assert db.session.get(Setting, "S3_SECRET_ACCESS_KEY") is None
    assert get_setting("S3_SECRET_ACCESS_KEY") == "from-the-environment"
    assert _changes()[-1] == {"setting": "S3_SECRET_ACCESS_KEY", "how": "admin"}
    page = text(operator.get(client, "/admin/settings"))
    assert "Set in the environment" in page and "from-the-environment" not in page


@pytest.mark.parametrize("form, message", [
    ({"STORAGE_BACKEND": "cloudflare"}, "needs: Account id, API token, Customer subdomain"),
    ({"STORAGE_BACKEND": "s3", "S3_BUCKET": ""}, "needs: Bucket"),
    ({"STORAGE_BACKEND": "ftp"}, "Choose where videos are stored"),
    ({"S3_BUCKET": "No Spaces Allowed"}, "bucket name does not look right"),
    ({"S3_ENDPOINT_URL": "ftp://minio.local"}, "endpoint URL does not look right"),
])
def test_bad_storage_settings_refuse_the_form_with_a_reason(client, operator, form, message):
    resp = operator.post(client, "/admin/settings", data=dict(S3_FORM, **form))
    assert resp.status_code == 400 and message in text(resp)
    db.session.expire_all()
    assert get_setting("STORAGE_BACKEND") == "local" and not db.session.scalars(
        db.select(Setting)).all()


def test_test_connection_checks_the_form_without_saving(client, operator, tmp_path):
    resp = operator.post(client, "/admin/settings/test", data={"STORAGE_BACKEND": "local",
                                                               "S3_BUCKET": "typed-not-saved"})
    page = text(resp)
    assert resp.status_code == 200
    assert "This server&#39;s disk: every check of the connection test passed." in page
    assert "Passed: Folder is writable." in page and "Passed: Free space." in page
    assert 'value="typed-not-saved"' in page  # the form as it was sent
    db.session.expire_all()
    assert not db.session.scalars(db.select(Setting)).all() and not _changes()
    [tested] = db.session.scalars(db.select(AuditEvent).filter_by(
        event_type=EventType.STORAGE_TESTED)).all()
    assert tested.data == {"backend": "local", "failed": []}
    assert tested.actor_id == operator.a.admin.id


def test_test_connection_uses_the_stored_secret_when_its_box_is_empty(client, operator,
                                                                      monkeypatch):
    operator.post(client, "/admin/settings", data=dict(S3_FORM, STORAGE_BACKEND="local"))
    seen = {}

    def fake_checks(backend, origin):
        seen.update(secret=backend.setting("S3_SECRET_ACCESS_KEY"), origin=origin)
        return []
    monkeypatch.setattr("lti_tool.storage.s3.checks.check_connection", fake_checks)
    operator.post(client, "/admin/settings/test", data=dict(S3_FORM, S3_SECRET_ACCESS_KEY=""))
    assert seen == {"secret": SECRET, "origin": "http://localhost"}


# ---- encryption at rest and the key's rotation ----

def _legacy_token(material: str, value: str) -> str:
    key = hashlib.sha256(b"lti-tool-settings:" + material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key)).encrypt(value.encode()).decode()


def test_rotation_reads_with_old_keys_and_reencrypt_moves_to_the_first(app, runner):
    with app.app_context():
        app.config["SETTINGS_ENCRYPTION_KEY"] = "old-key"
        set_setting("CLOUDFLARE_API_TOKEN", "token-under-old-key", secret=True)
        db.session.commit()
        app.config["SETTINGS_ENCRYPTION_KEY"] = "new-key"
        app.config["SECRET_KEY"] = "another-secret-key"
        db.session.expire_all()
        from lti_tool.settings import CACHE
        CACHE.clear()
        assert get_setting("CLOUDFLARE_API_TOKEN") is None  # old key gone: unreadable
        app.config["SETTINGS_ENCRYPTION_KEY"] = "new-key, old-key"
        CACHE.clear()
        assert get_setting("CLOUDFLARE_API_TOKEN") == "token-under-old-key"
    result = runner.invoke(args=["settings", "reencrypt"])
    assert result.exit_code == 0 and "1 stored secret" in result.output
    with app.app_context():
        app.config["SETTINGS_ENCRYPTION_KEY"] = "new-key"
        CACHE.clear()
        assert get_setting("CLOUDFLARE_API_TOKEN") == "token-under-old-key"
        assert "token-under-old-key" not in db.session.get(Setting, "CLOUDFLARE_API_TOKEN").value


def test_a_value_stored_before_hkdf_is_still_read(app):
    with app.app_context():
        db.session.add(Setting(key="S3_SECRET_ACCESS_KEY", encrypted=True,
                               value=_legacy_token(app.config["SECRET_KEY"], "legacy-secret")))
        db.session.commit()
        assert get_setting("S3_SECRET_ACCESS_KEY") == "legacy-secret"


def test_test_connection_of_cloudflare_from_the_page_logs_no_secret(client, operator, caplog):
    import logging

    import responses

    from tests import cloudflare_fake as cf
    caplog.set_level(logging.DEBUG)
    token = "typed-token-never-logged-77aa"
    form = {**SITE_FORM, "STORAGE_BACKEND": "cloudflare", "CLOUDFLARE_ACCOUNT_ID": cf.ACCOUNT,
            "CLOUDFLARE_API_TOKEN": token, "CLOUDFLARE_CUSTOMER_SUBDOMAIN": cf.SUBDOMAIN,
            "CLOUDFLARE_SIGNING_KEY_ID": "", "CLOUDFLARE_SIGNING_KEY_PEM": "",
            "CLOUDFLARE_WEBHOOK_SECRET": "typed-webhook-secret-55"}
    with responses.RequestsMock() as api:
        api.get(f"https://api.cloudflare.com/client/v4/accounts/{cf.ACCOUNT}/stream/"
                "storage-usage", status=403,
                json=cf.envelope(None, False, [{"code": 10000, "message": "Authentication"}]))
        resp = operator.post(client, "/admin/settings/test", data=form)
        assert api.calls[0].request.headers["Authorization"] == f"Bearer {token}"
    page = text(resp)
    assert "Failed: Account and API token." in page and "refused the API token" in page
    assert "1 of 1 checks of the connection test failed." in page
    for secret in (token, "typed-webhook-secret-55"):
        assert secret not in page and secret not in caplog.text
    db.session.expire_all()
    assert not db.session.scalars(db.select(Setting)).all()  # a test saves nothing
    tested = db.session.scalar(db.select(AuditEvent).filter_by(
        event_type=EventType.STORAGE_TESTED))
    assert tested.data == {"backend": "cloudflare", "failed": ["Account and API token"]}


def test_a_switch_saved_by_another_process_is_used_here_once_seen(app, monkeypatch):
    """Every worker and replica picks the new backend up through the settings cache's
    version token (within its check interval, a second by default)."""
    from sqlalchemy import insert

    from lti_tool.lti.launch_store import kv_put
    from lti_tool.settings import CACHE
    with app.app_context():
        assert current_storage().name == "local"  # the settings are now kept here
        monkeypatch.setattr(CACHE, "check_seconds", 3600)
        # What the other process's commit wrote, without this process's ORM seeing it.
        db.session.execute(insert(Setting).values(key="STORAGE_BACKEND", value="s3",
                                                  encrypted=False))
        kv_put(CACHE.version_key, "another process's version", 60)
        db.session.commit()
        assert current_storage().name == "local"  # not looked at yet
        monkeypatch.setattr(CACHE, "check_seconds", 0)
        assert current_storage().name == "s3"


def test_each_backends_fields_are_a_fieldset_all_shown_without_script(client, operator):
    """Server-rendered: one fieldset per backend with a legend, none hidden (storage-choice.js
    hides the ones not chosen); the choice names its fieldsets' backends."""
    page = text(operator.get(client, "/admin/settings"))
    for backend, legend in (("s3", "Amazon S3 or compatible (R2, MinIO): settings"),
                            ("cloudflare", "Cloudflare Stream: settings")):
        start = page.index(f'<fieldset class="backend-settings" data-backend="{backend}">')
        fieldset = page[start:page.index("</fieldset>", start)]
        assert f"<legend>{legend}</legend>" in fieldset and " hidden" not in fieldset
    assert 'id="set-S3_BUCKET"' in page.split('data-backend="s3"')[1].split("</fieldset>")[0]
    assert "data-backend-choice" in page and "js/storage-choice.js" in page
    assert "<script>" not in page
