"""The reference for bench/launch_bench.py: a bare LTI 1.3 tool doing pylti1p3's documented
Flask flow, nothing more.

Written from pylti1p3's README ("Usage with Flask"): a tool configuration (ToolConfDict),
`FlaskOIDCLogin(...).redirect(target_link_uri)` for the login, `FlaskMessageLaunch(...)
.get_launch_data()` for the launch, `FlaskMessageLaunch.from_cache(launch_id, ...)` on
later pages, and `FlaskCacheDataStorage` over a Flask-Caching cache shared by every worker
(Redis). No database, no provisioning, no audit: what the tool does above this is ours.

Also a plain signed-URL endpoint (`/signed-url`), the reference for playback grants: the
viewer comes from Flask's signed session cookie, the URL is an itsdangerous token.

Configuration comes from the JSON file named by BENCH_REFERENCE_CONFIG (written by
launch_bench.py): issuer, client_id, deployment_id, the platform's JWKS, the tool's private
key file, and REDIS_URL.
"""
from __future__ import annotations

import json
import os
import time

from flask import Flask, jsonify, redirect, request, session, url_for
from flask_caching import Cache
from itsdangerous import URLSafeSerializer
from pylti1p3.contrib.flask import (FlaskCacheDataStorage, FlaskMessageLaunch, FlaskOIDCLogin,
                                    FlaskRequest)
from pylti1p3.tool_config import ToolConfDict


def create_app() -> Flask:
    """Build the reference tool from the bench's configuration file."""
    with open(os.environ["BENCH_REFERENCE_CONFIG"]) as f:
        conf = json.load(f)
    app = Flask(__name__)
    app.config.update(SECRET_KEY=conf["secret_key"], CACHE_TYPE="RedisCache",
                      CACHE_REDIS_URL=conf["redis_url"], CACHE_DEFAULT_TIMEOUT=600)
    cache = Cache(app)
    tool_conf = ToolConfDict({conf["issuer"]: [{
        "default": True,
        "client_id": conf["client_id"],
        "auth_login_url": conf["auth_login_url"],
        "auth_token_url": conf["auth_token_url"],
        "key_set_url": None,
        "key_set": conf["platform_jwks"],
        "deployment_ids": [conf["deployment_id"]],
    }]})
    with open(conf["private_key_file"]) as f:
        tool_conf.set_private_key(conf["issuer"], f.read(), client_id=conf["client_id"])
    signer = URLSafeSerializer(conf["secret_key"], salt="bench.signed-url")

    def storage():
        return FlaskCacheDataStorage(cache)

    @app.route("/login", methods=["GET", "POST"])
    def login():
        target = request.values.get("target_link_uri")
        oidc = FlaskOIDCLogin(FlaskRequest(), tool_conf, launch_data_storage=storage())
        return oidc.redirect(target)

    @app.post("/launch")
    def launch():
        message = FlaskMessageLaunch(FlaskRequest(), tool_conf, launch_data_storage=storage())
        data = message.get_launch_data()
        session["user"] = data["sub"]
        return redirect(url_for("page", launch_id=message.get_launch_id()), code=303)

    @app.get("/app")
    def page():
        message = FlaskMessageLaunch.from_cache(request.args["launch_id"], FlaskRequest(),
                                                tool_conf, launch_data_storage=storage())
        data = message.get_launch_data()
        title = data["https://purl.imsglobal.org/spec/lti/claim/resource_link"]["title"]
        return f"<!doctype html><title>{title}</title><h1>Hello {data['sub']}</h1>"

    @app.get("/signed-url/<int:video_id>")
    def signed_url(video_id: int):
        user = session.get("user")
        if user is None:
            return jsonify(error="no session"), 401
        expires = int(time.time()) + 600
        token = signer.dumps({"v": video_id, "u": user, "e": expires})
        return jsonify(url=url_for("media", video_id=video_id, token=token),
                       expires_at=expires)

    @app.get("/media/<int:video_id>")
    def media(video_id: int):
        return "", 204

    return app


app = create_app() if os.environ.get("BENCH_REFERENCE_CONFIG") else None
