"""OIDC third-party initiated login (LTI 1.3 core 4.1; 1EdTech Security Framework 5.1.1).

pylti1p3 builds the authentication request; we keep its state and nonce in one shared
record (Redis or the database, lti_tool.lti.launch_store) so the launch can check them on
any worker, and bind it to the browser with a cookie, or with LTI
Platform Storage when the platform offers it (`lti_storage_target`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping
from urllib.parse import parse_qs, urlencode, urlsplit

from flask import render_template, request, url_for
from pylti1p3.contrib.flask import FlaskCookieService, FlaskOIDCLogin, FlaskRequest
from pylti1p3.exception import OIDCException

from lti_tool.errors import LaunchError
from lti_tool.lti.launch_store import UnusedLaunchData, put_short_lived
from lti_tool.lti.registry import CachedPlatform
from lti_tool.lti.tool_conf import DbToolConf
from lti_tool.web.cookies import cookie_attributes
from lti_tool.web.request_input import string_problem
from lti_tool.web.urls import public_url

# The login must reach the launch within this time (Moodle's own id_token lives 60 s).
LOGIN_TTL_SECONDS = 600
STATE_PREFIX = "oidc-state:"
# Login parameters we keep with the state, to restart the login in a new window.
LOGIN_PARAMS = ("iss", "login_hint", "target_link_uri", "lti_message_hint",
                "lti_deployment_id", "client_id")
STORAGE_TARGET_PARAM = "lti_storage_target"
NEW_WINDOW_PARAM = "lti1p3_new_window"
TEST_COOKIE = "lti1p3_test_cookie"

# The longest value taken for each login parameter (the columns and keys they end up in;
# hints are opaque to us, and some LMSs send a JWT as lti_message_hint).
LOGIN_PARAM_MAX_CHARS = {"iss": 512, "client_id": 255, "lti_deployment_id": 255,
                         "login_hint": 4096, "lti_message_hint": 4096,
                         "target_link_uri": 2048, STORAGE_TARGET_PARAM: 255}


def check_login_params(values: Mapping[str, str]) -> None:
    """Refuse a login initiation whose parameters are too long or hold NUL (LTI 1.3 core 4.1)."""
    for name, limit in LOGIN_PARAM_MAX_CHARS.items():
        value = values.get(name)
        if value is not None and (len(value) > limit or string_problem(value)):
            raise LaunchError(f"The login parameter `{name}` is longer than {limit} characters "
                              "or holds a NUL character.", code="malformed_login")


def state_key(state: str) -> str:
    """Return the KeyValue key of one login's state record."""
    return STATE_PREFIX + state[:200]


def state_cookie_name(state: str) -> str:
    """Return the name of the cookie that binds a state to the browser (pylti1p3's scheme)."""
    return "lti1p3-" + state


class ToolCookieService(FlaskCookieService):
    """pylti1p3's cookies, set with our iframe-friendly attributes (SameSite=None; Partitioned)."""

    def update_response(self, response):
        for key, data in self._cookie_data_to_set.items():
            response.set_cookie(key, str(data["value"]), max_age=data["exp"], path="/",
                                **cookie_attributes())


def check_cookie_attributes() -> str:
    """Return the attributes of the cookie check's test cookie: those of our own cookies."""
    attrs = cookie_attributes()
    parts = ["path=/", f"SameSite={attrs['samesite']}"]
    if attrs["secure"]:
        parts.append("Secure")
    if attrs["partitioned"]:
        parts.append("Partitioned")  # CHIPS: what our cookies rely on inside LMS iframes
    return "; ".join(parts)


@dataclass
class LoginOutcome:
    """Where to send the browser: the auth URL, and the Platform Storage details when used."""

    auth_url: str
    state: str
    nonce: str
    storage_target: str | None
    platform: CachedPlatform


class ToolOIDCLogin(FlaskOIDCLogin):
    """pylti1p3's OIDC login answering with a GET redirect and state kept in our store."""

    def __init__(self, platform: CachedPlatform | None = None):
        self.tool_conf = DbToolConf(platform)
        super().__init__(FlaskRequest(), self.tool_conf,
                         cookie_service=ToolCookieService(FlaskRequest()),
                         launch_data_storage=UnusedLaunchData())
        self.set_launch_data_storage(self._launch_data_storage)
        self.set_launch_data_lifetime(LOGIN_TTL_SECONDS)

    def continue_url(self) -> str:
        """Return this login's URL again, marked to skip the cookie check (in frame or window)."""
        params = request.args.to_dict()
        params.update({k: v for k in LOGIN_PARAMS
                       if k not in params and (v := self._get_request_param(k))})
        params[NEW_WINDOW_PARAM] = "1"
        return url_for(request.endpoint, **(request.view_args or {})) + "?" + urlencode(params)

    def start(self) -> LoginOutcome:
        """Validate the login request and prepare the authentication request (GET)."""
        # redirect_uri must equal a registered one exactly (Security Framework 5.1.1.2).
        try:
            auth_url = self._prepare_redirect_url(public_url("lti.launch"))
        except OIDCException as exc:
            raise LaunchError(f"The LMS's login request is incomplete: {exc}.",
                              hint="The LMS must send `iss` and `login_hint`.") from None
        query = parse_qs(urlsplit(auth_url).query)
        state, nonce = query["state"][0], query["nonce"][0]
        platform = self.tool_conf.find_platform(self._get_request_param("iss"),
                                                self._get_request_param("client_id"))
        storage_target = self._get_request_param(STORAGE_TARGET_PARAM) or None
        put_short_lived(state_key(state), {
            "platform_id": platform.id, "nonce": nonce, "storage_target": storage_target,
            "login": {k: v for k in LOGIN_PARAMS if (v := self._get_request_param(k))},
        }, LOGIN_TTL_SECONDS)
        return LoginOutcome(auth_url, state, nonce, storage_target, platform)

    def wants_cookie_check(self) -> bool:
        """Tell whether to run pylti1p3's cookie check page before the redirect.

        Only inside an iframe (Sec-Fetch-Dest), only without Platform Storage, and not when the
        check already sent us here in a new window.
        """
        return (request.headers.get("Sec-Fetch-Dest") == "iframe"
                and not self._get_request_param(STORAGE_TARGET_PARAM)
                and not self._is_new_window_request())

    def redirect_response(self, auth_url: str):
        """Return the 302 to the platform's auth endpoint, with the state cookie."""
        return self.get_redirect(auth_url).do_redirect()

    def page_response(self, html: str):
        """Return a page (the Platform Storage step) that also sets the state cookie."""
        resp = self.get_response(html)
        self._cookie_service.update_response(resp)
        return resp

    def cookie_check_response(self):
        """Return the cookie check page (pylti1p3's, without inline script).

        static/js/cookie-check.js sets a test cookie with our cookies' attributes; when it
        sticks, the login continues in the frame, else the page offers a new window.
        """
        page = render_template("lti/cookie_check.html", continue_url=self.continue_url(),
                               cookie_name=TEST_COOKIE, cookie_attributes=check_cookie_attributes())
        return self.get_response(page)
