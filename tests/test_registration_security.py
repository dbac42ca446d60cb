"""Dynamic registration under attack, over real HTTP: taking over an existing registration,
issuer and endpoint origins, redirects, forged requests to internal addresses, slow platforms,
the bound on calls for unauthenticated requests (under gunicorn), what the error page shows,
and one-time registration links with their commands."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from werkzeug.wrappers import Response

from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.lti import registration_links
from lti_tool.models import AccessToken, AuditEvent, Platform, RegistrationLink, utcnow
from tests.netkit import (TcpServer, answer, connect_attempts, fake_dns, redirect_to,  # noqa: F401
                          route, tls_context_for, trickle_body)
from tests.platform_kit import LtiBrowser, TestPlatform

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)

SECRET = "SECRET-INTERNAL-7f3a"  # what an internal service would answer; must never be shown
DEADLINE = 2
MARGIN = 0.8


@pytest.fixture
def lms():
    plat = TestPlatform(client_id="lms-client-1", deployment_id="3")
    yield plat
    plat.stop()


@pytest.fixture
def attacker():
    plat = TestPlatform(client_id="attacker-client")
    yield plat
    plat.stop()


def config_url(plat: TestPlatform) -> str:
    return f"{plat.url}/.well-known/openid-configuration"


def register(live_server, url: str, *, path: str = "/lti/register", token="reg-token",
             json: bool = False) -> requests.Response:
    params = {"openid_configuration": url}
    if token:
        params["registration_token"] = token
    headers = {"Accept": "application/json" if json else "text/html"}
    return requests.get(f"{live_server.url}{path}", params=params, headers=headers, timeout=60)


def rows(app) -> list[dict]:
    """Every registration's fields that a takeover would change."""
    with app.app_context():
        return [{"id": p.id, "issuer": p.issuer, "client_id": p.client_id,
                 "login": p.auth_login_url, "token": p.auth_token_url, "jwks": p.key_set_url,
                 "login_key": p.login_key, "active": p.active, "audience": p.auth_audience}
                for p in db.session.scalars(db.select(Platform).order_by(Platform.id))]


def events(app, event_type: EventType) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(db.select(AuditEvent).filter_by(event_type=event_type)))


# ---- finding 1: taking over an existing registration ----
def test_a_platform_naming_an_existing_issuer_and_client_id_cannot_take_it_over(
        live_server, app, lms, attacker):
    assert register(live_server, config_url(lms)).status_code == 200
    before = rows(app)
    attacker.issuer_override = lms.issuer  # the real LMS's issuer ...
    attacker.client_id = lms.client_id  # ... and its public client id
    resp = register(live_server, config_url(attacker))
    assert resp.status_code == 502
    assert "not on the host of its configuration URL" in resp.text
    assert "updated" not in resp.text
    assert attacker.captured.registration_requests == []
    assert rows(app) == before
    login_uri = lms.captured.registration_requests[0]["body"]["initiate_login_uri"]
    launch = LtiBrowser(live_server.url, lms).launch(urlsplit(login_uri).path, client_id=None)
    assert launch.status_code == 303, launch.text  # the real LMS still launches


def test_registering_again_with_a_known_client_id_changes_nothing_and_says_what_to_do(
        live_server, app, lms):
    assert register(live_server, config_url(lms)).status_code == 200
    before = rows(app)
    lms.configuration_overrides = {"token_endpoint": f"{lms.url}/other-token",
                                   "jwks_uri": f"{lms.url}/other-jwks"}
    resp = register(live_server, config_url(lms))
    assert resp.status_code == 409
    assert "already registered" in resp.text and "platforms update" in resp.text
    assert rows(app) == before
    (refused,) = events(app, EventType.REGISTRATION_REFUSED)
    assert refused.data["client_id"] == lms.client_id
    assert len(events(app, EventType.PLATFORM_REGISTERED)) == 1


def test_registering_again_with_a_new_client_id_adds_a_separate_registration(live_server,
                                                                             app, lms):
    assert register(live_server, config_url(lms)).status_code == 200
    (first,) = rows(app)
    lms.client_id = "lms-client-2"  # Moodle and Canvas give each registration its own
    resp = register(live_server, config_url(lms))
    assert resp.status_code == 200 and "now registered" in resp.text
    kept, added = rows(app)
    assert kept == first
    assert added["client_id"] == "lms-client-2" and added["login_key"] != first["login_key"]
    assert [e.data["client_id"] for e in events(app, EventType.PLATFORM_REGISTERED)] == \
        ["lms-client-1", "lms-client-2"]


# ---- the issuer and the registration endpoint belong to the configuration URL ----
@pytest.mark.parametrize("issuer", [
    "https://127.0.0.1:{port}",  # another scheme
    "http://127.0.0.1:{other}",  # another port
    "http://127.0.0.1",  # the default port
    "http://localhost:{port}",  # another host
], ids=["scheme", "port", "default-port", "host"])
def test_an_issuer_off_the_configuration_urls_origin_is_refused(live_server, app, lms, issuer):
    lms.issuer_override = issuer.format(port=lms.server.server_port,
                                        other=lms.server.server_port + 1)
    resp = register(live_server, config_url(lms))
    assert resp.status_code == 502
    assert "not on the host of its configuration URL" in resp.text
    assert lms.captured.registration_requests == [] and rows(app) == []


def test_the_issuers_host_is_compared_without_case(live_server, app):
    lms = TestPlatform(client_id="case-client", public_host="localhost")
    try:
        lms.issuer_override = lms.url.replace("localhost", "LocalHost")
        assert register(live_server, config_url(lms)).status_code == 200
    finally:
        lms.stop()
    assert rows(app)[0]["issuer"] == lms.issuer_override


def test_a_registration_endpoint_on_another_origin_is_refused(live_server, app, lms):
    with TcpServer(answer(200, {"client_id": "elsewhere"})) as elsewhere:
        lms.configuration_overrides = {"registration_endpoint": elsewhere.url("/register")}
        resp = register(live_server, config_url(lms))
        assert resp.status_code == 502 and "registration_endpoint" in resp.text
        time.sleep(0.2)
        assert elsewhere.accepted == 0 and rows(app) == []


def test_http_is_refused_but_for_loopback_when_loopback_is_allowed(live_server, app, lms,
                                                                   fake_dns, connect_attempts):
    fake_dns.set("lms.test", "127.0.0.1")
    resp = register(live_server, f"http://lms.test:{lms.server.server_port}/openid")
    assert resp.status_code == 400 and "does not use https" in resp.text
    lms.configuration_overrides = {"jwks_uri": "http://lms.test/jwks"}
    resp = register(live_server, config_url(lms))
    assert resp.status_code == 502 and "jwks_uri" in resp.text and "https" in resp.text
    assert "lms.test" not in fake_dns.lookups and rows(app) == []


def test_a_redirect_from_the_configuration_url_is_not_followed(live_server, app, lms):
    with TcpServer(redirect_to(config_url(lms))) as redirecting:
        resp = register(live_server, redirecting.url("/openid"))
    assert resp.status_code == 502 and "redirect" in resp.text
    assert lms.captured.config_requests == [] and rows(app) == []


# ---- finding 2: forged requests to internal addresses ----
@pytest.fixture
def internal():
    """A service on loopback that must stay out of reach when loopback is not allowed."""
    with TcpServer(answer(200, SECRET)) as srv:
        yield srv


@pytest.mark.parametrize("target", [
    "https://127.0.0.1:{port}/admin", "https://localhost:{port}/admin",
    "https://[::1]:{port}/admin", "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1/", "https://metadata.test/computeMetadata/v1/"])
def test_registration_does_not_fetch_internal_addresses(live_server, app, internal,
                                                        connect_attempts, fake_dns, target):
    app.config["OUTBOUND_ALLOW_LOOPBACK"] = False
    fake_dns.set("metadata.test", "169.254.169.254")
    started = len(connect_attempts)
    resp = register(live_server, target.format(port=internal.port))
    assert resp.status_code == 400 and "not a public address" in resp.text
    assert SECRET not in resp.text
    tool_side = [a for a in connect_attempts[started + 1:] if a[1] != live_server.port]
    assert tool_side == []  # the first attempt is the test's own call to the tool
    time.sleep(0.2)
    assert internal.accepted == 0


def test_an_intranet_lms_is_reached_when_its_network_is_allowed(live_server, app, fake_dns,
                                                                 tmp_path, monkeypatch):
    """An https LMS whose name resolves to an address outside the public internet (here
    127.0.0.1, standing in for 10.x): refused, then reached once OUTBOUND_ALLOWED_NETWORKS
    holds its network."""
    tls, cert = tls_context_for("lms.test", tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
    fake_dns.set("lms.test", "127.0.0.1")
    with TcpServer(tls=tls) as intranet:
        base = f"https://lms.test:{intranet.port}"
        intranet.serve = route({
            "/openid": answer(200, {"issuer": base, "authorization_endpoint": f"{base}/auth",
                                    "token_endpoint": f"{base}/token",
                                    "jwks_uri": f"{base}/jwks",
                                    "registration_endpoint": f"{base}/register"}),
            "/register": answer(200, {"client_id": "intranet-1"})})
        app.config["OUTBOUND_ALLOW_LOOPBACK"] = False
        resp = register(live_server, f"{base}/openid")
        assert resp.status_code == 400 and "not a public address" in resp.text
        assert intranet.accepted == 0
        app.config["OUTBOUND_ALLOWED_NETWORKS"] = "127.0.0.0/8"
        resp = register(live_server, f"{base}/openid")
        assert resp.status_code == 200, resp.text
    assert [(r["issuer"], r["client_id"]) for r in rows(app)] == [(base, "intranet-1")]


def _answer_with_secret(plat: TestPlatform, where: str, status: int, content_type: str):
    body = {"application/json": f'{{"error": "x", "error_description": "{SECRET}"}}',
            "text/html": f"<html><body>{SECRET}</body></html>"}[content_type]
    setattr(plat, where, lambda req: Response(body, status=status, mimetype=content_type))


@pytest.mark.parametrize("where,status,content_type,words", [
    ("_openid_configuration", 500, "text/html", "HTTP 500"),
    ("_openid_configuration", 403, "application/json", "HTTP 403"),
    ("_openid_configuration", 200, "text/html", "did not answer with JSON"),
    ("_register", 400, "application/json", "HTTP 400"),
    ("_register", 502, "text/html", "HTTP 502"),
])
@pytest.mark.parametrize("as_json", [False, True], ids=["page", "json"])
def test_the_error_never_shows_what_the_remote_server_answered(live_server, app, lms, where,
                                                               status, content_type, words,
                                                               as_json):
    _answer_with_secret(lms, where, status, content_type)
    resp = register(live_server, config_url(lms), json=as_json)
    assert resp.status_code == 502
    assert words in resp.text and SECRET not in resp.text
    if as_json:
        assert resp.json()["error"]["code"] == "registration_failed"


def test_a_configuration_larger_than_the_cap_is_refused(live_server, app, lms):
    app.config["OUTBOUND_MAX_RESPONSE_BYTES"] = 10_000
    lms.configuration_overrides = {"padding": "x" * 20_000}
    resp = register(live_server, config_url(lms))
    assert resp.status_code == 502 and "too large" in resp.text and rows(app) == []


# ---- finding 4: slow platforms ----
def test_a_trickling_configuration_url_is_cut_at_the_total_deadline(live_server, app):
    app.config["OUTBOUND_TIMEOUT_SECONDS"] = DEADLINE
    with TcpServer(trickle_body(seconds=20)) as slow:
        started = time.monotonic()
        resp = register(live_server, slow.url("/openid"))
        elapsed = time.monotonic() - started
    assert resp.status_code == 502 and f"within {DEADLINE} seconds" in resp.text
    assert elapsed < DEADLINE + MARGIN


def _gunicorn(app, port: int, threads: int, **env) -> subprocess.Popen:
    from tests.test_tus_live import ROOT
    environment = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
                       LOCAL_STORAGE_DIR=app.config["LOCAL_STORAGE_DIR"],
                       SECRET_KEY=app.config["SECRET_KEY"], SCHEDULER_ENABLED="0",
                       DEMO_LMS="0", LTI_KEYS_DIR=app.config["LTI_KEYS_DIR"], PROXY_COUNT="0",
                       PYTHONPATH=str(ROOT), **{k: str(v) for k, v in env.items()})
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--threads",
         str(threads), "--workers", "1", "--timeout", "60", "-b", f"127.0.0.1:{port}",
         "wsgi:app"], cwd=ROOT, env=environment, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except requests.RequestException:
            time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError("gunicorn did not start")


def test_slow_registrations_are_bounded_and_health_checks_stay_fast(app):
    """Four worker threads, six registrations against a platform that trickles: two hold the
    unauthenticated slots until their deadline, the others get 503 at once, and /healthz
    finds a free thread."""
    from tests.test_tus_live import _free_port
    port = _free_port()
    proc = _gunicorn(app, port, threads=4, OUTBOUND_ALLOW_LOOPBACK=1,
                     OUTBOUND_UNAUTHENTICATED_CONCURRENCY=2, OUTBOUND_TIMEOUT_SECONDS=6,
                     RATELIMIT_REGISTER="100 per minute")
    base = f"http://127.0.0.1:{port}"

    def one(_):
        started = time.monotonic()
        resp = requests.get(f"{base}/lti/register", timeout=60, params={
            "openid_configuration": slow.url("/openid")}, headers={"Accept": "text/html"})
        return resp, time.monotonic() - started

    try:
        with TcpServer(trickle_body(seconds=30)) as slow, ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(one, n) for n in range(6)]
            # Every registration has reached the worker: two hold the slow server, four
            # were turned away.
            deadline = time.monotonic() + 10
            while (slow.accepted < 2 or sum(f.done() for f in futures) < 4) \
                    and time.monotonic() < deadline:
                time.sleep(0.05)
            started = time.monotonic()
            health = requests.get(f"{base}/healthz", timeout=10)
            health_seconds = time.monotonic() - started
            results = [f.result() for f in futures]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert health.status_code == 200 and health_seconds < 1.0
    busy = [(r, s) for r, s in results if r.status_code == 503]
    held = [(r, s) for r, s in results if r.status_code == 502]
    assert len(busy) == 4 and len(held) == 2, [r.status_code for r, _ in results]
    for resp, seconds in busy:
        assert seconds < 2.0
        assert int(resp.headers["Retry-After"]) > 0
        assert "busy" in resp.text
    for resp, seconds in held:
        assert "did not answer" in resp.text and "within 6 seconds" in resp.text
        assert seconds < 6 + 2


# ---- one-time registration links ----
def new_link(app, **kw) -> str:
    with app.app_context():
        _link, token = registration_links.create_link(**kw)
    return token


def link_row(app, token: str) -> RegistrationLink:
    with app.app_context():
        return db.session.scalar(db.select(RegistrationLink).filter_by(
            token_hash=registration_links.hash_token(token)))


@pytest.fixture
def link_mode(app):
    app.config["LTI_REGISTRATION"] = "link"
    return app


def test_link_mode_refuses_a_registration_without_a_link_before_calling_out(live_server,
                                                                           link_mode, lms):
    resp = register(live_server, config_url(lms))
    assert resp.status_code == 403 and "one-time registration link" in resp.text
    assert "platforms links create" in resp.text
    assert lms.captured.config_requests == [] and rows(link_mode) == []


def test_the_configuration_page_tells_admins_that_a_link_is_needed(client, app):
    assert "one-time registration link" not in client.get("/lti/config").get_data(as_text=True)
    app.config["LTI_REGISTRATION"] = "link"
    page = client.get("/lti/config").get_data(as_text=True)
    assert "one-time registration link" in page and "platforms links create" in page
    doc = client.get("/lti/config", headers={"Accept": "application/json"}).get_json()
    assert doc["registration_mode"] == "link"


def test_a_link_registers_once_and_is_used_up(live_server, link_mode, lms, attacker):
    token = new_link(link_mode, note="Moodle prod")
    resp = register(live_server, config_url(lms), path=f"/lti/register/{token}")
    assert resp.status_code == 200, resp.text
    (stored,) = rows(link_mode)
    link = link_row(link_mode, token)
    assert link.used_at is not None and link.platform_id == stored["id"]
    assert events(link_mode, EventType.REGISTRATION_LINK_USED)[0].target_id == str(link.id)
    (registered,) = events(link_mode, EventType.PLATFORM_REGISTERED)
    assert registered.data["link_id"] == link.id and registered.data["mode"] == "link"
    again = register(live_server, config_url(attacker), path=f"/lti/register/{token}")
    assert again.status_code == 403 and "already been used" in again.text
    assert attacker.captured.config_requests == [] and len(rows(link_mode)) == 1


@pytest.mark.parametrize("spoil,words", [
    (lambda link: setattr(link, "expires_at", utcnow() - timedelta(minutes=1)), "expired"),
    (lambda link: setattr(link, "revoked_at", utcnow()), "revoked"),
])
def test_an_expired_or_revoked_link_is_refused_before_calling_out(live_server, link_mode, lms,
                                                                  spoil, words):
    token = new_link(link_mode)
    with link_mode.app_context():
        spoil(db.session.merge(link_row(link_mode, token)))
        db.session.commit()
    resp = register(live_server, config_url(lms), path=f"/lti/register/{token}")
    assert resp.status_code == 403 and words in resp.text
    assert lms.captured.config_requests == [] and rows(link_mode) == []


def test_an_unknown_link_is_refused(live_server, link_mode, lms):
    resp = register(live_server, config_url(lms), path="/lti/register/not-a-real-token")
    assert resp.status_code == 403 and "not known" in resp.text
    assert lms.captured.config_requests == []


def test_a_failed_registration_leaves_its_link_usable(live_server, link_mode, lms):
    token = new_link(link_mode)
    lms.registration_mode = "register_500"
    assert register(live_server, config_url(lms), path=f"/lti/register/{token}").status_code \
        == 502
    assert link_row(link_mode, token).used_at is None
    lms.registration_mode = "ok"
    assert register(live_server, config_url(lms), path=f"/lti/register/{token}").status_code \
        == 200


def test_in_open_mode_a_link_works_too_and_is_used_up(live_server, app, lms):
    token = new_link(app)
    assert register(live_server, config_url(lms), path=f"/lti/register/{token}").status_code \
        == 200
    assert link_row(app, token).used_at is not None
    (registered,) = events(app, EventType.PLATFORM_REGISTERED)
    assert registered.data["mode"] == "open"


def test_an_unknown_registration_mode_stops_the_start(app_config):
    from lti_tool import create_app
    with pytest.raises(ValueError, match="LTI_REGISTRATION must be one of open, link"):
        create_app({**app_config, "LTI_REGISTRATION": "sometimes"})


# ---- operator commands ----
def test_links_create_prints_the_url_once_and_keeps_only_a_hash(app, runner):
    app.config["PUBLIC_BASE_URL"] = "https://tool.example"
    out = runner.invoke(args=["platforms", "links", "create", "--expires-hours", "2",
                              "--note", "Moodle prod"])
    assert out.exit_code == 0, out.output
    url = next(w for w in out.output.split() if w.startswith("https://tool.example/"))
    token = url.rsplit("/", 1)[1]
    assert url == f"https://tool.example/lti/register/{token}"
    link = link_row(app, token)
    assert link.token_hash == registration_links.hash_token(token) != token
    assert timedelta(hours=1, minutes=59) < link.expires_at - link.created_at <= \
        timedelta(hours=2)
    assert events(app, EventType.REGISTRATION_LINK_CREATED)
    listed = runner.invoke(args=["platforms", "links", "list"])
    assert "unused" in listed.output and "Moodle prod" in listed.output
    assert token not in listed.output


def test_links_revoke_and_its_refusals(app, runner):
    new_link(app)
    with app.app_context():
        link_id = db.session.scalar(db.select(RegistrationLink.id))
    out = runner.invoke(args=["platforms", "links", "revoke", str(link_id)])
    assert out.exit_code == 0 and "revoked" in out.output
    assert "revoked" in runner.invoke(args=["platforms", "links", "list"]).output
    assert events(app, EventType.REGISTRATION_LINK_REVOKED)
    missing = runner.invoke(args=["platforms", "links", "revoke", "999"])
    assert missing.exit_code != 0 and "No registration link with id 999" in missing.output
    too_long = runner.invoke(args=["platforms", "links", "create", "--expires-hours", "100000"])
    assert too_long.exit_code != 0


def test_a_used_link_cannot_be_revoked(live_server, app, runner, lms):
    token = new_link(app)
    assert register(live_server, config_url(lms), path=f"/lti/register/{token}").status_code \
        == 200
    out = runner.invoke(args=["platforms", "links", "revoke", str(link_row(app, token).id)])
    assert out.exit_code != 0 and "already used" in out.output


def test_platforms_update_changes_urls_drops_cached_keys_and_tokens_and_is_audited(app,
                                                                                    runner):
    from tests.factories import make_platform
    with app.app_context():
        platform = make_platform(jwks_cache={"keys": []}, jwks_fetched_at=utcnow())
        db.session.add(AccessToken(platform_id=platform.id, scopes="s", token="t",
                                   expires_at=utcnow() + timedelta(hours=1)))
        db.session.commit()
        pid = platform.id
    out = runner.invoke(args=["platforms", "update", str(pid),
                              "--login-url", "https://lms.example/new-auth",
                              "--token-url", "https://lms.example/new-token",
                              "--jwks-url", "https://lms.example/new-jwks",
                              "--auth-audience", "https://lms.example/aud"])
    assert out.exit_code == 0, out.output
    with app.app_context():
        platform = db.session.get(Platform, pid)
        assert (platform.auth_login_url, platform.auth_token_url, platform.key_set_url,
                platform.auth_audience) == ("https://lms.example/new-auth",
                                            "https://lms.example/new-token",
                                            "https://lms.example/new-jwks",
                                            "https://lms.example/aud")
        assert platform.jwks_cache is None and platform.jwks_fetched_at is None
        assert db.session.scalar(db.select(db.func.count()).select_from(AccessToken)) == 0
    (updated,) = events(app, EventType.PLATFORM_UPDATED)
    assert updated.data["changes"]["key_set_url"]["to"] == "https://lms.example/new-jwks"
    same = runner.invoke(args=["platforms", "update", str(pid),
                               "--login-url", "https://lms.example/new-auth"])
    assert "nothing to change" in same.output
    bad = runner.invoke(args=["platforms", "update", str(pid), "--jwks-url", "file:///etc"])
    assert bad.exit_code != 0 and "not an http(s) URL" in bad.output
    unknown = runner.invoke(args=["platforms", "update", "999", "--name", "x"])
    assert unknown.exit_code != 0 and "No platform with id 999" in unknown.output
