"""A test LTI platform over real HTTP that signs real id_tokens, and a browser that drives it.

`TestPlatform` serves on 127.0.0.1 (werkzeug, threaded):
  /jwks                         its public keys (tests may add or swap keys)
  /auth                         OIDC auth endpoint: answers the tool's GET with an auto-post
                                form carrying an id_token that echoes state and nonce
  /token                        a placeholder token endpoint
  /.well-known/openid-configuration, /register
                                LTI Dynamic Registration, with switchable failure modes
  /storage-parent               a parent page with the tool in an iframe and a Platform
                                Storage frame (for the real-browser test)
It mints good and deliberately bad tokens: `next_claims` / `next_headers` / `signing_key`
shape the next id_token the auth endpoint answers with.
"""
from __future__ import annotations

import html
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlencode

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"


def new_rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key, kid: str) -> dict:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return jwk


@dataclass
class Captured:
    """What the platform saw, for assertions."""

    auth_requests: list[dict] = field(default_factory=list)
    registration_requests: list[dict] = field(default_factory=list)
    config_requests: list[dict] = field(default_factory=list)
    jwks_requests: int = 0


class TestPlatform:
    """A small LTI 1.3 platform (an LMS) for tests."""

    __test__ = False  # not a pytest class

    def __init__(self, client_id: str = "moodle-client-1", deployment_id: str = "1",
                 public_host: str = "127.0.0.1"):
        self.key = new_rsa_key()
        self.kid = f"plat-{uuid.uuid4().hex[:8]}"
        self.jwks = {"keys": [public_jwk(self.key, self.kid)]}
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.captured = Captured()
        # Shapes the next id_token: claims merged last, header extras, another key, or a
        # function given the final (claims, headers) that returns the encoded token.
        self.next_claims: dict[str, Any] = {}
        self.next_headers: dict[str, Any] = {}
        self.signing_key = None
        self.encoder: Callable[[dict, dict], str] | None = None
        # When set, the id_token's `sub` is the login_hint the tool passed on, so several
        # browsers can launch as several users at once.
        self.sub_from_login_hint = False
        self.registration_mode = "ok"
        self.issuer_override: str | None = None
        # Fields of the OpenID configuration to replace (e.g. another registration_endpoint).
        self.configuration_overrides: dict[str, Any] = {}
        # Always on loopback; `public_host` (e.g. "localhost") makes it another site than a
        # tool on 127.0.0.1, as an LMS and a tool are in real life.
        self.server = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self.url = f"http://{public_host}:{self.server.server_port}"
        self.issuer = self.url
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join(timeout=5)

    # ---- registration in the tool's database ----
    def register_in_tool(self, policy: str = "refuse", **kw):
        """Create the Platform row for this platform (needs an app context)."""
        from lti_tool.extensions import db
        from lti_tool.models import Deployment, Platform
        platform = Platform(
            name="Test LMS", issuer=self.issuer, client_id=self.client_id,
            auth_login_url=f"{self.url}/auth", auth_token_url=f"{self.url}/token",
            key_set_url=f"{self.url}/jwks", deployment_policy=policy, **kw)
        platform.deployments.append(Deployment(deployment_id=self.deployment_id))
        db.session.add(platform)
        db.session.commit()
        return platform

    # ---- tokens ----
    def mint(self, claims: dict, headers: dict | None = None, key=None, alg: str = "RS256") -> str:
        """Sign claims as this platform (or with another key)."""
        hdr = {"kid": self.kid}
        hdr.update(headers or {})
        return jwt.encode(claims, key or self.key, algorithm=alg, headers=hdr)

    def base_claims(self, nonce: str, **overrides) -> dict:
        """A Moodle-shaped resource link launch for a student (no name, no email)."""
        now = int(time.time())
        claims = {
            "iss": self.issuer, "aud": self.client_id, "sub": "2", "iat": now,
            "exp": now + 60, "nonce": nonce,
            LTI + "message_type": "LtiResourceLinkRequest",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": self.deployment_id,
            LTI + "target_link_uri": "",
            LTI + "resource_link": {"id": "7", "title": "Pitch video"},
            LTI + "roles": [LIS + "membership#Learner"],
            LTI + "context": {"id": "3", "label": "FILM101", "title": "Film Studies",
                              "type": ["CourseSection"]},
            "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                          "https://purl.imsglobal.org/spec/lti-ags/scope/score"],
                "lineitems": f"{self.url}/mod/lti/services.php/3/lineitems?type_id=1"},
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url":
                    f"{self.url}/mod/lti/services.php/CourseSection/3/bindings/1/memberships",
                "service_versions": ["1.0", "2.0"]},
        }
        claims.update(overrides)
        return claims

    # ---- HTTP ----
    def wsgi(self, environ, start_response):
        req = Request(environ)
        handler = {
            "/jwks": self._jwks, "/auth": self._auth, "/token": self._token,
            "/.well-known/openid-configuration": self._openid_configuration,
            "/register": self._register, "/storage-parent": self._storage_parent,
            "/storage-frame": self._storage_frame,
        }.get(req.path)
        resp = handler(req) if handler else Response("not found", status=404)
        return resp(environ, start_response)

    def _jwks(self, req):
        self.captured.jwks_requests += 1
        return Response(json.dumps(self.jwks), mimetype="application/json")

    def _token(self, req):
        return Response(json.dumps({"error": "unsupported_grant_type"}), status=400,
                        mimetype="application/json")

    def _auth(self, req):
        q = req.args
        self.captured.auth_requests.append(dict(q))
        claims = self.base_claims(q.get("nonce", ""), aud=q.get("client_id"))
        claims[LTI + "target_link_uri"] = q.get("redirect_uri", "")
        if self.sub_from_login_hint and q.get("login_hint"):
            claims["sub"] = q["login_hint"]
        claims.update(self.next_claims)
        for k, v in list(claims.items()):
            if v is None:
                del claims[k]
        headers = dict(self.next_headers)
        if self.encoder is not None:
            token = self.encoder(claims, headers)
        else:
            token = self.mint(claims, headers, key=self.signing_key)
        body = (f'<form id="f" method="post" action="{html.escape(q.get("redirect_uri", ""))}">'
                f'<input type="hidden" name="id_token" value="{html.escape(token)}">'
                f'<input type="hidden" name="state" value="{html.escape(q.get("state", ""))}">'
                '</form><script>document.getElementById("f").submit()</script>')
        return Response(body, mimetype="text/html")

    # ---- dynamic registration ----
    def openid_configuration(self) -> dict:
        return {
            "issuer": self.issuer_override or self.issuer,
            "authorization_endpoint": f"{self.url}/auth",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "registration_endpoint": f"{self.url}/register",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid"],
            "response_types_supported": ["id_token"],
            PLATFORM_CONFIGURATION: {"product_family_code": "moodle", "version": "4.5",
                                     "messages_supported": [{"type": "LtiResourceLinkRequest"},
                                                            {"type": "LtiDeepLinkingRequest"}]},
            **self.configuration_overrides,
        }

    def _openid_configuration(self, req):
        self.captured.config_requests.append({"authorization": req.headers.get("Authorization")})
        mode = self.registration_mode
        if mode == "config_500":
            return Response("Internal error", status=500)
        if mode == "config_invalid_json":
            return Response("<html>not json</html>", mimetype="text/html")
        config = self.openid_configuration()
        if mode == "config_missing_fields":
            del config["token_endpoint"]
        return Response(json.dumps(config), mimetype="application/json")

    def _register(self, req):
        body = req.get_json(silent=True)
        self.captured.registration_requests.append(
            {"body": body, "authorization": req.headers.get("Authorization")})
        mode = self.registration_mode
        if mode == "register_400":
            return Response(json.dumps({"error": "invalid_client_metadata",
                                        "error_description": "domain mismatch"}),
                            status=400, mimetype="application/json")
        if mode == "register_500":
            return Response("boom", status=500)
        if mode == "register_invalid_json":
            return Response("{not json", mimetype="application/json")
        if mode == "register_slow":
            time.sleep(3)
        answer = dict(body or {})
        answer["client_id"] = self.client_id
        tool_conf = dict(answer.get(TOOL_CONFIGURATION) or {})
        tool_conf["deployment_id"] = self.deployment_id
        answer[TOOL_CONFIGURATION] = tool_conf
        return Response(json.dumps(answer), mimetype="application/json")

    # ---- LTI Platform Storage (for the browser test) ----
    def _storage_parent(self, req):
        src = req.args.get("tool_login_url", "")
        body = f"""<!doctype html><title>LMS</title>
<iframe name="post_message_forwarding" src="{self.url}/storage-frame"></iframe>
<iframe id="tool" name="tool" src="{html.escape(src)}" style="width:800px;height:600px"></iframe>"""
        return Response(body, mimetype="text/html")

    def _storage_frame(self, req):
        # The forwarding frame answers lti.put_data / lti.get_data for the tool frame.
        body = """<!doctype html><script>
var store = {};
window.addEventListener("message", function (e) {
  var d = e.data || {}; var s = d.subject || "";
  var base = s.replace(/^org\\.imsglobal\\./, "");
  if (base === "lti.put_data") { store[e.origin + "|" + d.key] = d.value;
    e.source.postMessage({subject: s + ".response", message_id: d.message_id, key: d.key, value: d.value}, e.origin); }
  if (base === "lti.get_data") {
    e.source.postMessage({subject: s + ".response", message_id: d.message_id, key: d.key,
                          value: store[e.origin + "|" + d.key]}, e.origin); }
});
</script>"""
        return Response(body, mimetype="text/html")


FORM_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
FORM_ACTION = re.compile(r'<form[^>]*action="([^"]*)"')


def parse_form(page: str) -> tuple[str, dict]:
    """Return (action, fields) of the first form of an auto-post page."""
    action = html.unescape(FORM_ACTION.search(page).group(1))
    return action, {k: html.unescape(v) for k, v in FORM_INPUT.findall(page)}


class LtiBrowser:
    """A requests session that plays the browser between the platform and the tool."""

    def __init__(self, tool_url: str, platform: TestPlatform):
        self.tool_url = tool_url
        self.platform = platform
        self.session = requests.Session()

    def login_params(self, **extra) -> dict:
        params = {"iss": self.platform.issuer, "login_hint": "2",
                  "target_link_uri": f"{self.tool_url}/lti/launch",
                  "lti_message_hint": json.dumps({"cmid": 7, "launchid": "x"}),
                  "client_id": self.platform.client_id,
                  "lti_deployment_id": self.platform.deployment_id}
        params.update(extra)
        return {k: v for k, v in params.items() if v is not None}

    def login(self, path: str = "/lti/login", method: str = "post", **extra) -> requests.Response:
        """Start the login as the LMS's auto-posted form does."""
        url = self.tool_url + path
        params = self.login_params(**extra)
        if method == "post":
            return self.session.post(url, data=params, allow_redirects=False)
        return self.session.get(url, params=params, allow_redirects=False)

    def authorize(self, auth_url: str) -> tuple[str, dict]:
        """Follow the tool's redirect to the platform; return the auto-post form."""
        resp = self.session.get(auth_url, allow_redirects=False)
        assert resp.status_code == 200, resp.text
        return parse_form(resp.text)

    def post_launch(self, action: str, fields: dict, **kw) -> requests.Response:
        return self.session.post(action, data=fields, allow_redirects=False, **kw)

    def launch(self, path: str = "/lti/login", **extra) -> requests.Response:
        """Do login, auth and launch; return the tool's answer to the launch post."""
        resp = self.login(path, **extra)
        assert resp.status_code == 302, resp.text
        action, fields = self.authorize(resp.headers["Location"])
        return self.post_launch(action, fields)

    def login_url_for(self, issuer: str, **extra) -> str:
        return f"{self.tool_url}/lti/login?" + urlencode(self.login_params(iss=issuer, **extra))


# ---- fixtures: `from tests.platform_kit import browser, platform  # noqa: F401` ----
@pytest.fixture
def platform(app):
    """A test platform registered in the tool (deployment "1", policy refuse)."""
    plat = TestPlatform()
    with app.app_context():
        plat.register_in_tool()
    yield plat
    plat.stop()


@pytest.fixture
def browser(live_server, platform):
    """A browser between the registered test platform and the live tool."""
    return LtiBrowser(live_server.url, platform)
