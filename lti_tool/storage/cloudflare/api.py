"""A small client for Cloudflare's Stream API: retries with backoff, errors made ours.

API reference: https://developers.cloudflare.com/api/resources/stream/ . Responses come in
an envelope `{"success", "errors": [{"code", "message"}], "messages", "result"}`.
The API token is sent in one header and never logged.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

import requests

from lti_tool import outbound
from lti_tool.errors import StorageError
from lti_tool.storage.base import BackendUnavailable, QuotaExceeded, UploadNotFound
from lti_tool.storage.messages import MSG_BUSY, MSG_MISCONFIGURED, MSG_QUOTA, MSG_REFUSED

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Cloudflare's code when the account's purchased storage minutes would be exceeded.
STORAGE_CAPACITY_EXCEEDED = 10011
# Stream's code for a video (uid) it does not hold; a 404 without it is a missing endpoint.
VIDEO_NOT_FOUND = 10003
TUS_VERSION = "1.0.0"


@dataclass(frozen=True)
class ApiFailure:
    """What Cloudflare said when it refused, for the admin's log."""

    status: int
    codes: tuple[int, ...]
    messages: tuple[str, ...]

    def __str__(self) -> str:
        detail = "; ".join(f"{c}: {m}" for c, m in zip(self.codes, self.messages))
        return f"HTTP {self.status} {detail or '(no detail)'}"


class CloudflareClient:
    """Talk to one Cloudflare account's Stream API."""

    def __init__(self, *, base_url: str, account_id: str, api_token: str,
                 max_retries: int = 4, timeout: float = 20.0, backoff_seconds: float = 0.5,
                 max_backoff_seconds: float = 30.0,
                 session: outbound.OutboundSession | None = None,
                 sleep: Callable[[float], None] | None = None):
        if not account_id or not api_token:
            log.error("Cloudflare Stream is selected but CLOUDFLARE_ACCOUNT_ID or "
                      "CLOUDFLARE_API_TOKEN is not set")
            raise BackendUnavailable(MSG_MISCONFIGURED)
        self.base_url = base_url.rstrip("/")
        self.account_id = account_id
        self._token = api_token
        self.max_retries = max(0, max_retries)
        self.timeout = timeout
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        # Every call goes through lti_tool.outbound: address policy, no redirect, and
        # `timeout` as each attempt's total deadline.
        self.session = session or outbound.OutboundSession(outbound.AddressPolicy())
        self._sleep = sleep or time.sleep

    def __repr__(self) -> str:
        return f"<CloudflareClient account={self.account_id} base={self.base_url}>"

    def stream_url(self, path: str = "") -> str:
        """Return the absolute URL of a path under /accounts/{id}/stream."""
        return f"{self.base_url}/accounts/{self.account_id}/stream{path}"

    # --- transport -----------------------------------------------------------------------

    def send(self, method: str, path: str, *, params: dict | None = None,
             json: Any = None, headers: dict | None = None, files: dict | None = None,
             not_found_ok: bool = False) -> requests.Response:
        """Send one request, retrying 429/5xx and network failures with bounded backoff."""
        url = self.stream_url(path)
        all_headers = {"Authorization": f"Bearer {self._token}"}
        all_headers.update(headers or {})
        attempt = 0
        while True:
            try:
                resp = self.session.request(method, url, params=params, json=json,
                                            headers=all_headers, files=files,
                                            timeout=self.timeout)
            except outbound.OutboundError as exc:
                if not exc.retryable:
                    log.error("Cloudflare API %s %s refused by the tool's outbound policy: %s "
                              "(check CLOUDFLARE_API_BASE)", method, path, exc.message)
                    raise BackendUnavailable(MSG_MISCONFIGURED) from None
                if attempt >= self.max_retries:
                    log.error("Cloudflare API %s %s unreachable after %d attempts: %s",
                              method, path, attempt + 1, exc.message)
                    raise BackendUnavailable(MSG_BUSY) from None
                self._sleep(self._delay(attempt, None))
                attempt += 1
                continue
            if resp.status_code in RETRY_STATUSES and attempt < self.max_retries:
                delay = self._delay(attempt, resp.headers.get("Retry-After"))
                # The whole path (…/stream, …/stream/<uid>): "" alone names nothing.
                log.warning("Cloudflare API %s %s -> %s; retrying in %.1fs", method,
                            urlsplit(url).path, resp.status_code, delay)
                self._sleep(delay)
                attempt += 1
                continue
            if resp.status_code == 404 and not_found_ok:
                return resp
            if resp.status_code >= 400:
                self._raise_for(method, path, resp)
            return resp

    def get_once(self, path: str) -> requests.Response:
        """GET a Stream path once, without retries, and return Cloudflare's answer as it is
        (to diagnose settings: "Test connection"). Raises outbound.OutboundError when
        Cloudflare cannot be reached."""
        return self.session.request("GET", self.stream_url(path), timeout=self.timeout,
                                    headers={"Authorization": f"Bearer {self._token}"})

    def call(self, method: str, path: str, **kwargs) -> Any:
        """Send a request and return the envelope's `result`."""
        resp = self.send(method, path, **kwargs)
        if resp.status_code == 404:
            return None
        try:
            body = resp.json()
        except ValueError:
            log.error("Cloudflare API %s %s answered %s with a body that is not JSON",
                      method, path, resp.status_code)
            raise BackendUnavailable(MSG_BUSY) from None
        if isinstance(body, dict) and body.get("success") is False:
            self._raise_for(method, path, resp)
        return body.get("result") if isinstance(body, dict) else body

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        """Return seconds to wait: Retry-After when given, else capped exponential backoff."""
        if retry_after:
            seconds = outbound.parse_retry_after(retry_after)
            if seconds is not None:
                return min(max(seconds, 0.0), self.max_backoff_seconds)
        return outbound.backoff_delay(attempt, self.backoff_seconds, self.max_backoff_seconds)

    def _raise_for(self, method: str, path: str, resp: requests.Response) -> None:
        """Translate a refusal into one of our errors, logging the detail for admins."""
        failure = _failure(resp)
        status = failure.status
        if (STORAGE_CAPACITY_EXCEEDED in failure.codes
                or any("capacity" in m.lower() for m in failure.messages)):
            log.error("Cloudflare Stream storage is full (%s): buy more storage minutes or "
                      "delete old videos", failure)
            raise QuotaExceeded(MSG_QUOTA)
        if status in (401, 403):
            log.error("Cloudflare API refused %s %s (%s): check CLOUDFLARE_API_TOKEN "
                      "(Stream:Edit) and CLOUDFLARE_ACCOUNT_ID", method, path, failure)
            raise BackendUnavailable(MSG_MISCONFIGURED)
        if status == 404 and VIDEO_NOT_FOUND in failure.codes:
            log.info("Cloudflare API %s %s: not found", method, path)
            raise UploadNotFound("This video is no longer held by the video service.")
        if status == 404:  # no such endpoint (a wrong API base or account), not a lost video
            log.error("Cloudflare API %s %s: no such endpoint (%s): check "
                      "CLOUDFLARE_API_BASE and CLOUDFLARE_ACCOUNT_ID", method, path, failure)
            raise BackendUnavailable(MSG_MISCONFIGURED)
        if status == 429 or status >= 500:
            log.error("Cloudflare API %s %s still failing after retries (%s)", method, path,
                      failure)
            raise BackendUnavailable(MSG_BUSY)
        log.error("Cloudflare API refused %s %s (%s)", method, path, failure)
        raise StorageError(MSG_REFUSED, code="storage_refused")


def _failure(resp: requests.Response) -> ApiFailure:
    codes: list[int] = []
    messages: list[str] = []
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for err in body.get("errors") or []:
            if isinstance(err, dict):
                codes.append(int(err.get("code") or 0))
                messages.append(str(err.get("message") or ""))
    return ApiFailure(resp.status_code, tuple(codes), tuple(messages))
