"""Admin-set settings override the environment, and secrets are stored encrypted."""
import pytest

from lti_tool.extensions import db
from lti_tool.models import Setting
from lti_tool.settings import get_setting, set_setting

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)


def test_environment_value_is_the_default(app):
    app.config["CLOUDFLARE_ACCOUNT_ID"] = "from-env"
    with app.app_context():
        assert get_setting("CLOUDFLARE_ACCOUNT_ID") == "from-env"
        assert get_setting("NOT_SET_ANYWHERE", "fallback") == "fallback"


def test_admin_value_overrides_environment(app):
    app.config["CLOUDFLARE_ACCOUNT_ID"] = "from-env"
    with app.app_context():
        set_setting("CLOUDFLARE_ACCOUNT_ID", "from-admin")
        db.session.commit()
        assert get_setting("CLOUDFLARE_ACCOUNT_ID") == "from-admin"
        set_setting("CLOUDFLARE_ACCOUNT_ID", None)
        db.session.commit()
        assert get_setting("CLOUDFLARE_ACCOUNT_ID") == "from-env"


def test_secret_is_encrypted_at_rest(app):
    with app.app_context():
        set_setting("CLOUDFLARE_API_TOKEN", "super-secret-token", secret=True)
        db.session.commit()
        stored = db.session.get(Setting, "CLOUDFLARE_API_TOKEN")
        assert stored.encrypted and "super-secret-token" not in stored.value
        assert get_setting("CLOUDFLARE_API_TOKEN") == "super-secret-token"


def test_secret_unreadable_after_key_change_falls_back_and_logs(app, caplog):
    app.config["CLOUDFLARE_API_TOKEN"] = "env-token"
    with app.app_context():
        set_setting("CLOUDFLARE_API_TOKEN", "admin-token", secret=True)
        db.session.commit()
        app.config["SECRET_KEY"] = "a-different-key"
        assert get_setting("CLOUDFLARE_API_TOKEN") == "env-token"
    assert "cannot be decrypted" in caplog.text
    assert "admin-token" not in caplog.text
