"""Which proxies in front of the app are believed about the client's address and scheme.

PROXY_COUNT proxies (nginx, a load balancer) are trusted with X-Forwarded-*; with none
(the default) a client's own X-Forwarded-For is ignored, so it cannot choose the address
rate limits and the audit log see.
"""
from __future__ import annotations

import logging

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

log = logging.getLogger(__name__)


class NoTrustedProxy:
    """WSGI middleware for PROXY_COUNT=0: no X-Forwarded-* header is believed.

    A public base URL on https means whatever reaches the app came through TLS (terminated
    in front), so the request counts as https (secure cookies). A request that does carry
    X-Forwarded-For is logged once: the operator probably forgot PROXY_COUNT.
    """

    def __init__(self, app, public_base_url: str):
        self.app = app
        self.https = (public_base_url or "").startswith("https://")
        self.warned = False

    def __call__(self, environ, start_response):
        if self.https:
            environ["wsgi.url_scheme"] = "https"
        if not self.warned and "HTTP_X_FORWARDED_FOR" in environ:
            self.warned = True
            log.warning("a request came with X-Forwarded-For, but PROXY_COUNT=0: client "
                        "addresses are the socket's peer. Behind a reverse proxy set "
                        "PROXY_COUNT=1 (README).")
        return self.app(environ, start_response)


# The layers install() may put outermost; inner middleware goes inside them.
PROXY_LAYERS = (ProxyFix, NoTrustedProxy)


def install(app: Flask) -> None:
    """Wrap the app in the proxy layer its PROXY_COUNT asks for."""
    count = app.config["PROXY_COUNT"]
    if count > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count,
                                x_port=count, x_prefix=count)
    else:
        app.wsgi_app = NoTrustedProxy(app.wsgi_app, app.config["PUBLIC_BASE_URL"])
