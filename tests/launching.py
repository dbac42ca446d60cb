"""Launch the tool from the demo LMS over real HTTP, as a browser would; and a fake tool key set.

Use in any test module::

    from tests.launching import launcher  # noqa: F401  (the fixture)

    def test_student_sees_the_assignment(launcher):
        result = launcher.as_student(2)
        assert result.response.status_code == 200
        result.session.get(...)          # the browser's cookies, for further pages
        result.launch_id                 # the tool's launch id (the `launch` query param)
        result.claims                    # the id_token's claims, as the LMS sent them

Each launch uses a fresh `requests.Session` as the browser: it loads the demo LMS's launch
form, posts it to the tool's login URL, follows the redirect to the demo LMS's auth endpoint,
posts the id_token form to the tool's launch URL and follows redirects to the final page.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urljoin, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

DEMO_PREFIX = "/demo-lms"
TIMEOUT = 20


# ---- reading the auto-posted forms ----
@dataclass
class Form:
    action: str
    method: str
    fields: dict


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append(Form(attrs.get("action") or "", (attrs.get("method") or "get")
                                   .lower(), {}))
        elif tag in ("input", "textarea") and self.forms and attrs.get("name"):
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.forms[-1].fields[attrs["name"]] = attrs.get("value") or ""


def parse_forms(html: str, page_url: str) -> list[Form]:
    """Return the forms of an HTML page, with their inputs' values and absolute actions."""
    parser = _FormParser()
    parser.feed(html)
    for form in parser.forms:
        form.action = urljoin(page_url, form.action)
    return parser.forms


def forms_in(response: requests.Response) -> list[Form]:
    """Return the forms of a page the browser session loaded."""
    return parse_forms(response.text, response.url)


def submit(session: requests.Session, form: Form, **overrides) -> requests.Response:
    """Submit a form as the browser would, following redirects."""
    data = dict(form.fields, **overrides)
    if form.method == "post":
        return session.post(form.action, data=data, timeout=TIMEOUT)
    return session.get(form.action, params=data, timeout=TIMEOUT)


def follow_autopost(session: requests.Session, response: requests.Response) -> requests.Response:
    """Submit the page's auto-submitting form (an LTI hop), or fail with the page's text."""
    forms = forms_in(response)
    if response.status_code != 200 or not forms:
        raise AssertionError(f"expected an auto-posting form at {response.url}, got "
                             f"{response.status_code}: {response.text[:800]}")
    return submit(session, forms[0])


# ---- launching ----
@dataclass
class LaunchResult:
    """The browser after a launch: its cookies, the final page, and what the LMS sent."""

    session: requests.Session
    response: requests.Response
    launch_id: str | None
    url: str
    claims: dict


class Launcher:
    """Launches from the demo LMS to the tool through the live server."""

    def __init__(self, live_server):
        self.server = live_server
        self.base = live_server.url

    def as_student(self, n: int = 1, **kw) -> LaunchResult:
        return self.launch(user=f"student{n}", **kw)

    def as_instructor(self, **kw) -> LaunchResult:
        return self.launch(user="instructor", **kw)

    def as_ta(self, **kw) -> LaunchResult:
        return self.launch(user="ta", **kw)

    def as_admin(self, **kw) -> LaunchResult:
        return self.launch(user="admin", **kw)

    def deep_link(self, user: str = "instructor", **kw) -> LaunchResult:
        return self.launch(user=user, message_type="LtiDeepLinkingRequest", **kw)

    def submission_review(self, student_n: int = 1, user: str = "instructor",
                          **kw) -> LaunchResult:
        return self.launch(user=user, message_type="LtiSubmissionReviewRequest",
                           for_user=f"student{student_n}", **kw)

    def launch(self, user: str = "student1", roles: list[str] | None = None,
               course: str | int = "demo-course-1", resource_link: int | str | None = None,
               message_type: str = "LtiResourceLinkRequest", for_user: str | None = None,
               lineitem: int | None = None) -> LaunchResult:
        """Launch as `user` (a demo username) and return the browser on the final page.

        `resource_link` is an activity id or title (default: the course's first activity);
        `roles` replaces the role URIs the LMS would send.
        """
        params = {"user": user, "course": course, "message_type": message_type}
        link_id = self._link_id(course, resource_link)
        if link_id is not None:
            params["link"] = link_id
        if message_type == "LtiSubmissionReviewRequest":
            params["lineitem"] = lineitem or self._first_lineitem(link_id)
        if for_user:
            params["for_user"] = for_user
        if roles:
            params["roles"] = ",".join(roles)
        session = requests.Session()
        form_page = session.get(f"{self.base}{DEMO_PREFIX}/launch", params=params,
                                timeout=TIMEOUT)
        auth_page = follow_autopost(session, form_page)  # tool login -> 302 -> auth endpoint
        auth_form = forms_in(auth_page)[0] if forms_in(auth_page) else None
        if auth_form is None or "id_token" not in auth_form.fields:
            raise AssertionError(f"the demo LMS did not answer with an id_token form: "
                                 f"{auth_page.status_code} {auth_page.text[:800]}")
        claims = jwt.decode(auth_form.fields["id_token"], options={"verify_signature": False})
        final = submit(session, auth_form)
        launch_id = parse_qs(urlsplit(final.url).query).get("launch", [None])[0]
        return LaunchResult(session, final, launch_id, final.url, claims)

    # The live server shares the process: look activities up in its database.
    def _link_id(self, course, resource_link) -> int | None:
        if isinstance(resource_link, int) or (isinstance(resource_link, str)
                                              and resource_link.isdigit()):
            return int(resource_link)
        from demo_lms import ensure_demo_registration
        from demo_lms.launches import find_course, links_of
        with self.server.app.app_context():
            tool = ensure_demo_registration(self.base)
            links = links_of(find_course(course), tool)
            for link in links:
                if resource_link is None or link.title == resource_link:
                    return link.id
        if resource_link is not None:
            raise AssertionError(f"no activity titled {resource_link!r} in {course}")
        return None

    def _first_lineitem(self, link_id: int | None) -> int:
        from demo_lms.launches import lineitems_of_link
        from demo_lms.models import DemoResourceLink
        from lti_tool.extensions import db
        with self.server.app.app_context():
            items = lineitems_of_link(db.session.get(DemoResourceLink, link_id))
            return items[0].id


@pytest.fixture
def launcher(live_server):
    """Launch the tool from the demo LMS over real HTTP (see the module docstring)."""
    return Launcher(live_server)


# ---- a stand-in tool key set, for testing the platform without the tool ----
class ToolKeys:
    """An RSA key pair of a pretend tool, its JWKS served over HTTP on a loopback port."""

    def __init__(self, kid: str = "test-tool-key"):
        self.kid = kid
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
        self.jwks = {"keys": [jwk]}
        self.fetches = 0
        keys = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                keys.fetches += 1
                body = json.dumps(keys.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def sign(self, payload: dict, kid: str | None = "default", key=None) -> str:
        """Sign a payload as the tool (RS256, with this key's kid unless told otherwise)."""
        headers = {"kid": self.kid if kid == "default" else kid} if kid is not None else {}
        return jwt.encode(payload, key or self.private_key, algorithm="RS256", headers=headers)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def tool_keys():
    """A pretend tool's keys, its JWKS served over HTTP for the whole session."""
    keys = ToolKeys()
    yield keys
    keys.stop()


class DemoPlatform:
    """The demo LMS seen from a pretend tool: signs assertions, gets tokens, calls services."""

    def __init__(self, app, keys: ToolKeys, base_url: str = "http://localhost"):
        from demo_lms import ensure_demo_registration
        from lti_tool.extensions import db
        self.app, self.keys = app, keys
        self.client = app.test_client()
        with app.app_context():
            tool = ensure_demo_registration(base_url)
            tool.jwks_uri = keys.url
            db.session.commit()
            self.tool_id, self.client_id = tool.id, tool.client_id
            self.issuer = tool.issuer
        self.token_url = f"{self.issuer}/token"
        self._jti = 0

    def assertion(self, **overrides) -> str:
        """Return a client assertion JWT; `overrides` replace or (None) drop claims."""
        import time
        now = int(time.time())
        self._jti += 1
        claims = {"iss": self.client_id, "sub": self.client_id, "aud": self.token_url,
                  "iat": now, "exp": now + 60, "jti": f"jti-{now}-{self._jti}-{id(self)}"}
        kid = overrides.pop("_kid", "default")
        key = overrides.pop("_key", None)
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return self.keys.sign(claims, kid=kid, key=key)

    def request_token(self, scopes, assertion: str | None = None, **form):
        """POST to the token endpoint and return the test client's response."""
        data = {"grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion or self.assertion(), "scope": " ".join(scopes)}
        data.update(form)
        return self.client.post("/demo-lms/token", data=data)

    def token(self, *scopes) -> str:
        """Return a fresh access token with these scopes (fails the test otherwise)."""
        resp = self.request_token(scopes)
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()["access_token"]

    @staticmethod
    def path(url: str) -> str:
        """Return the path and query of an absolute demo LMS URL, for the test client."""
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.fixture
def demo_platform(app, tool_keys):
    """The demo LMS with the tool registered under a pretend tool's key set."""
    return DemoPlatform(app, tool_keys)
