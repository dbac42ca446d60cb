"""The load generator of bench/launch_bench.py: an LTI platform and its users' browsers.

The platform holds an RSA key made once (its JWKS is given to both tools beforehand, so no
tool fetches it) and signs a fresh id_token for every launch; the browsers are threads with
one keep-alive HTTP connection each and a cookie jar. One launch is what a browser does:
POST the login initiation, read state, nonce and redirect_uri from the redirect to the
platform's auth endpoint, POST the signed id_token there, follow the redirect to the landing
page. The auth endpoint itself is this process (no HTTP hop), so the platform is cheap.
"""
from __future__ import annotations

import http.client
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
SQL_HEADER = "x-bench-sql"


class BenchPlatform:
    """An LTI 1.3 platform that signs id_tokens with a key made once."""

    def __init__(self, issuer="https://lms.bench.invalid", client_id="bench-client",
                 deployment_id="1"):
        self.issuer, self.client_id, self.deployment_id = issuer, client_id, deployment_id
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "bench-" + uuid.uuid4().hex[:8]
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        jwk.update(kid=self.kid, alg="RS256", use="sig")
        self.jwks = {"keys": [jwk]}
        self.auth_login_url = self.issuer + "/auth"
        self.auth_token_url = self.issuer + "/token"
        self.key_set_url = self.issuer + "/jwks"

    def login_params(self, user: str, target: str) -> dict:
        return {"iss": self.issuer, "login_hint": user, "target_link_uri": target,
                "client_id": self.client_id, "lti_deployment_id": self.deployment_id,
                "lti_message_hint": "bench"}

    def id_token(self, user: str, nonce: str, target: str) -> str:
        """Sign a resource link launch of `user` into the bench course as a student."""
        now = int(time.time())
        claims = {
            "iss": self.issuer, "aud": self.client_id, "azp": self.client_id, "sub": user,
            "iat": now, "exp": now + 60, "nonce": nonce,
            "name": f"Student {user}", "given_name": "Student", "family_name": user,
            "email": f"{user}@bench.invalid",
            LTI + "deployment_id": self.deployment_id,
            LTI + "message_type": "LtiResourceLinkRequest", LTI + "version": "1.3.0",
            LTI + "roles": [LEARNER], LTI + "target_link_uri": target,
            LTI + "resource_link": {"id": "bench-link-1", "title": "Bench assignment"},
            LTI + "context": {"id": "bench-course-1", "title": "Bench course",
                              "label": "BENCH", "type": [
                                  "http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"]},
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


class Browser:
    """One user's browser: a keep-alive connection and a cookie jar."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.conn = http.client.HTTPConnection(host, port, timeout=60)
        self.cookies: dict[str, str] = {}
        self.sql = [0, 0]

    def request(self, method: str, path: str, form: dict | None = None,
                headers: dict | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
        hdrs = dict(headers or {})
        body = None
        if form is not None:
            body = urlencode(form)
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt == 2:
                    raise
        for cookie in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        counted = resp.headers.get(SQL_HEADER)
        if counted:
            statements, commits = counted.split(",")
            self.sql[0] += int(statements)
            self.sql[1] += int(commits)
        return resp.status, resp.headers, data


@dataclass
class ToolPaths:
    login: str
    target: str  # the absolute launch URL (target_link_uri)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def launch(browser: Browser, platform: BenchPlatform, paths: ToolPaths, user: str) -> str:
    """Run one full launch; return the landing page's path."""
    browser.cookies.clear()
    status, headers, body = browser.request(
        "POST", paths.login, form=platform.login_params(user, paths.target))
    if status != 302:
        raise RuntimeError(f"login answered {status}: {body[:300]!r}")
    query = parse_qs(urlsplit(headers["Location"]).query)
    state, nonce = query["state"][0], query["nonce"][0]
    redirect_uri = query["redirect_uri"][0]
    token = platform.id_token(user, nonce, paths.target)
    status, headers, body = browser.request("POST", _path(redirect_uri),
                                            form={"id_token": token, "state": state})
    if status not in (302, 303):
        raise RuntimeError(f"launch answered {status}: {body[:300]!r}")
    landing = _path(headers["Location"])
    status, _, body = browser.request("GET", landing)
    if status != 200:
        raise RuntimeError(f"landing page {landing} answered {status}: {body[:300]!r}")
    return landing


@dataclass
class RunResult:
    done: int = 0
    errors: list = field(default_factory=list)
    latencies: list = field(default_factory=list)
    statements: int = 0
    commits: int = 0
    seconds: float = 0.0


def run(concurrency: int, seconds: float, step, make_browser) -> RunResult:
    """Run `step(browser, i)` in `concurrency` threads for `seconds`; collect latencies."""
    result = RunResult()
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds
    browsers = [make_browser() for _ in range(concurrency)]

    def worker(n: int, browser: Browser):
        i = 0
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            try:
                step(browser, n * 1_000_000 + i)
            except Exception as exc:  # noqa: BLE001 - reported, the run goes on
                with lock:
                    result.errors.append(repr(exc)[:300])
                time.sleep(0.05)
                continue
            finally:
                i += 1
            elapsed = time.perf_counter() - t0
            with lock:
                result.done += 1
                result.latencies.append(elapsed)

    threads = [threading.Thread(target=worker, args=(n, b), daemon=True)
               for n, b in enumerate(browsers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = time.perf_counter() - t0
    for b in browsers:
        result.statements += b.sql[0]
        result.commits += b.sql[1]
        b.conn.close()
    return result
