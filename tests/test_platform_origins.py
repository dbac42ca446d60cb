"""The origins of an LMS registration (lti/origins.py) and the `platforms origins` commands."""
from __future__ import annotations

import pytest

from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.lti.origins import (HOSTED_VENDORS, normalize_origin, normalize_pattern,
                                  origin_matches, platform_origins)
from lti_tool.models import AuditEvent, Platform
from tests.factories import make_platform

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)


def test_a_registration_owns_the_origins_of_its_urls(app):
    with app.app_context():
        platform = make_platform(
            issuer="https://moodle.example.edu", auth_login_url="https://moodle.example.edu/"
            "mod/lti/auth.php", auth_token_url="https://auth.example.edu:8443/token",
            key_set_url="https://MOODLE.example.edu:443/mod/lti/certs.php",
            registration_data={"openid_configuration": {
                "registration_endpoint": "https://reg.example.edu/register"}},
            extra_origins=["https://cdn.example.edu", "https://*.example.org"])
        assert platform_origins(platform) == [
            "https://moodle.example.edu", "https://auth.example.edu:8443",
            "https://reg.example.edu", "https://cdn.example.edu", "https://*.example.org"]


@pytest.mark.parametrize("issuer,family,wildcards", [
    ("https://canvas.instructure.com", None, ["https://*.instructure.com"]),
    ("https://canvas.beta.instructure.com", None, ["https://*.instructure.com"]),
    ("https://canvas.test.instructure.com", None, ["https://*.instructure.com"]),
    ("https://lms.school.edu", "canvas", ["https://*.instructure.com"]),
    ("https://blackboard.com", None, ["https://*.blackboard.com"]),
    ("https://school.brightspace.com", "desire2learn",
     ["https://*.brightspace.com", "https://*.desire2learn.com"]),
    ("https://moodle.school.edu", "moodle", []),
    ("https://canvas.instructure.com.evil.example", None, []),
])
def test_hosted_vendors_add_their_school_hosts(app, issuer, family, wildcards):
    with app.app_context():
        platform = make_platform(issuer=issuer, product_family=family)
        found = [o for o in platform_origins(platform) if "*" in o]
        assert found == wildcards
    assert {v.name for v in HOSTED_VENDORS} == {"canvas", "blackboard", "brightspace"}


@pytest.mark.parametrize("origin,matches", [
    ("https://school.instructure.com", True),
    ("https://a.b.instructure.com", True),
    ("https://instructure.com", False),  # the wildcard is for hosts below the domain
    ("http://school.instructure.com", False),
    ("https://school.instructure.com:8443", False),
    ("https://evilinstructure.com", False),
    ("https://instructure.com.evil.example", False),
])
def test_a_wildcard_matches_only_hosts_below_its_domain_over_https(origin, matches):
    assert origin_matches(origin, "https://*.instructure.com") is matches


@pytest.mark.parametrize("value,expected", [
    ("https://LMS.example.edu/", "https://lms.example.edu"),
    ("https://lms.example.edu:443", "https://lms.example.edu"),
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("https://[::1]:8443", "https://[::1]:8443"),
    ("https://*.Example.edu", "https://*.example.edu"),
    ("https://*.edu", None),
    ("https://lms.example.edu/path", None),
    ("https://user@lms.example.edu", None),
    ("ftp://lms.example.edu", None),
    ("javascript:alert(1)", None),
    ("https://lms.example.edu; script-src *", None),
    ("https://lms_1.example.edu", None),
    ("", None),
])
def test_origins_are_normalized_or_refused(value, expected):
    assert normalize_pattern(value) == expected


def test_origin_of_a_url_with_a_path(app):
    assert normalize_origin("https://lms.example.edu/mod/lti/auth.php?x=1") == \
        "https://lms.example.edu"
    assert normalize_origin("https://lms.example.edu:99999/") is None


# ---- flask --app wsgi platforms origins add|remove|list ----
@pytest.fixture
def platform_id(app) -> int:
    with app.app_context():
        platform = make_platform(issuer="https://moodle.example.edu")
        db.session.commit()
        return platform.id


def test_an_admin_adds_lists_and_removes_an_origin(app, runner, platform_id):
    added = runner.invoke(args=["platforms", "origins", "add", str(platform_id),
                                "https://Files.Example.edu/"])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(args=["platforms", "origins", "list", str(platform_id)])
    assert "https://moodle.example.edu\n" in listed.output
    assert "https://files.example.edu  (added)" in listed.output
    again = runner.invoke(args=["platforms", "origins", "add", str(platform_id),
                                "https://files.example.edu"])
    assert again.exit_code != 0 and "already allowed" in again.output
    removed = runner.invoke(args=["platforms", "origins", "remove", str(platform_id),
                                  "https://files.example.edu"])
    assert removed.exit_code == 0, removed.output
    with app.app_context():
        assert db.session.get(Platform, platform_id).extra_origins is None
        changes = [e.data for e in db.session.scalars(db.select(AuditEvent).filter_by(
            event_type=EventType.SETTING_CHANGED, platform_id=platform_id))]
        assert changes == [{"origin_added": "https://files.example.edu", "how": "cli"},
                           {"origin_removed": "https://files.example.edu", "how": "cli"}]


@pytest.mark.parametrize("origin,message", [
    ("files.example.edu", "is not an origin"),
    ("https://files.example.edu/path", "is not an origin"),
    ("https://*.edu", "is not an origin"),
    ("http://files.example.edu", "plain http"),
])
def test_a_bad_origin_is_refused_with_the_form_to_use(app, runner, platform_id, origin, message):
    result = runner.invoke(args=["platforms", "origins", "add", str(platform_id), origin])
    assert result.exit_code != 0 and message in result.output
    with app.app_context():
        assert db.session.get(Platform, platform_id).extra_origins is None


def test_removing_an_origin_that_was_not_added_says_so(runner, platform_id):
    result = runner.invoke(args=["platforms", "origins", "remove", str(platform_id),
                                 "https://moodle.example.edu"])
    assert result.exit_code != 0 and "was not added" in result.output


def test_an_unknown_platform_is_named(runner):
    result = runner.invoke(args=["platforms", "origins", "list", "999"])
    assert result.exit_code != 0 and "No platform with id 999" in result.output
