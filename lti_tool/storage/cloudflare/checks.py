""""Test connection" for Cloudflare Stream: the account and API token, the signing key, the
webhook.

Every call goes through the backend's outbound session (lti_tool/outbound.py), once, without
retries, so a wrong setting is reported in seconds. Cloudflare's answers are said in words
an admin can act on; the token, key and secrets never appear in a message.
API: https://developers.cloudflare.com/api/resources/stream/ (storage-usage, keys, webhook).
"""
from __future__ import annotations

import hmac
from typing import Any

import requests
from flask import has_request_context

from lti_tool import outbound
from lti_tool.storage.base import CheckStatus, ConnectionCheck
from lti_tool.storage.cloudflare.api import CloudflareClient
from lti_tool.storage.cloudflare.signing import SigningKeyError, sign_stream_token
from lti_tool.web.urls import public_url

WEBHOOK_ENDPOINT = "webhooks.cloudflare_stream"
PROBE_UID = "connection-test"  # signed locally only, to prove the key can sign
SIGNING_KEY_COMMAND = "`flask --app wsgi storage cloudflare-create-signing-key --save`"
WEBHOOK_COMMAND = "`flask --app wsgi storage cloudflare-set-webhook --save`"


def _check(name: str, status: CheckStatus, message: str) -> ConnectionCheck:
    return ConnectionCheck(name, status, message)


def _result(resp: requests.Response) -> Any:
    try:
        body = resp.json()
    except ValueError:
        return None
    return body.get("result") if isinstance(body, dict) else None


def check_connection(backend, origin: str) -> list[ConnectionCheck]:
    """Check the settings of `backend` (a CloudflareStorage) against Cloudflare for real
    (see ConnectionChecks)."""
    account = backend.setting("CLOUDFLARE_ACCOUNT_ID", "") or ""
    token = backend.setting("CLOUDFLARE_API_TOKEN", "") or ""
    missing = [label for label, value in (("account id", account), ("API token", token))
               if not value]
    if missing:
        return [_check("Settings", CheckStatus.FAILED,
                       f"Enter the {' and the '.join(missing)} (Cloudflare dashboard: Stream; "
                       "the token needs the Stream:Edit permission).")]
    client = backend.client(max_retries=0)  # through the backend's outbound session
    checks = [_account(client, account)]  # every later call needs the account and token
    if not checks[-1].ok:
        return checks
    if not (backend.setting("CLOUDFLARE_CUSTOMER_SUBDOMAIN", "") or "").strip():
        checks.append(_check("Playback address", CheckStatus.FAILED,
                             "Enter the customer subdomain (customer-<code>.cloudflarestream"
                             ".com, shown in the Stream dashboard): without it no video "
                             "can be played."))
    checks.append(_signing_key(backend, client))
    checks.append(_webhook(backend, client))
    return checks


def _get(client: CloudflareClient, path: str) -> requests.Response | str:
    """GET a Stream path once; return the response, or why Cloudflare could not be reached."""
    try:
        return client.get_once(path)
    except outbound.OutboundError as exc:
        return exc.message


def _account(client: CloudflareClient, account: str) -> ConnectionCheck:
    name = "Account and API token"
    resp = _get(client, "/storage-usage")
    if isinstance(resp, str):
        return _check(name, CheckStatus.FAILED,
                      f"The tool could not reach Cloudflare's API ({resp}). Check the API "
                      "base and that this server may connect out to api.cloudflare.com.")
    if resp.status_code in (401, 403):
        return _check(name, CheckStatus.FAILED,
                      "Cloudflare refused the API token. Create a token with the Stream:Edit "
                      "permission for this account (Cloudflare dashboard: My Profile, API "
                      "Tokens) and enter it here.")
    if resp.status_code == 404:
        return _check(name, CheckStatus.FAILED,
                      f"Cloudflare has no Stream account with the id {account}. Copy the "
                      "account id from the dashboard (Stream, on the right).")
    usage = _result(resp) if resp.status_code < 300 else None
    if not isinstance(usage, dict):
        return _check(name, CheckStatus.FAILED,
                      f"Cloudflare answered HTTP {resp.status_code}; try again in a minute, "
                      "and check Cloudflare's status page if it persists.")
    used = float(usage.get("totalStorageMinutes") or 0)
    limit = usage.get("totalStorageMinutesLimit")
    detail = f"{used:,.0f} of {float(limit):,.0f} storage minutes used" if limit else \
        f"{used:,.0f} storage minutes used"
    if limit and used >= float(limit):
        return _check(name, CheckStatus.FAILED,
                      f"The token works, but the account is full ({detail}): new uploads "
                      "are refused. Buy more minutes or delete old videos.")
    return _check(name, CheckStatus.PASSED, f"Cloudflare accepted the token ({detail}).")


def _signing_key(backend, client: CloudflareClient) -> ConnectionCheck:
    name = "Signing key"
    key_id = backend.setting("CLOUDFLARE_SIGNING_KEY_ID", "") or ""
    pem = backend.setting("CLOUDFLARE_SIGNING_KEY_PEM", "") or ""
    if not key_id and not pem:
        return _check(name, CheckStatus.WARNING,
                      "No signing key: videos still play, but each view asks Cloudflare for a "
                      f"token (slower, and counts against its rate limit). Create one with "
                      f"{SIGNING_KEY_COMMAND}.")
    if not key_id or not pem:
        lacking = "key id" if not key_id else "private key (pem)"
        return _check(name, CheckStatus.FAILED,
                      f"The signing key's {lacking} is missing: enter both as Cloudflare gave "
                      f"them, or create a new key with {SIGNING_KEY_COMMAND}.")
    try:
        sign_stream_token(PROBE_UID, key_id=key_id, pem=pem, ttl_seconds=60)
    except SigningKeyError:
        return _check(name, CheckStatus.FAILED,
                      "The signing key's private key cannot be read. Paste the `pem` value "
                      "Cloudflare returned when the key was created (base64), whole.")
    resp = _get(client, "/keys")
    if isinstance(resp, str) or resp.status_code >= 300:
        return _check(name, CheckStatus.FAILED,
                      "Cloudflare would not list the signing keys; check the token has the "
                      "Stream:Edit permission.")
    ids = {str(k.get("id")) for k in _result(resp) or [] if isinstance(k, dict)}
    if key_id not in ids:
        return _check(name, CheckStatus.FAILED,
                      f"Cloudflare has no signing key with the id {key_id} (deleted, or from "
                      "another account): playback would fail. Create a new key with "
                      f"{SIGNING_KEY_COMMAND}.")
    return _check(name, CheckStatus.PASSED,
                  f"The key {key_id} exists at Cloudflare and signs playback tokens here.")


def _webhook(backend, client: CloudflareClient) -> ConnectionCheck:
    name = "Webhook"
    resp = _get(client, "/webhook")
    if isinstance(resp, str) or (resp.status_code >= 300 and resp.status_code != 404):
        return _check(name, CheckStatus.FAILED,
                      "Cloudflare would not show the webhook; check the token has the "
                      "Stream:Edit permission.")
    hook = _result(resp) if resp.status_code < 300 else None
    hook = hook if isinstance(hook, dict) else {}
    remote_url = str(hook.get("notificationUrl") or "")
    ours = public_url(WEBHOOK_ENDPOINT) if has_request_context() else ""
    if not remote_url:
        return _check(name, CheckStatus.WARNING,
                      "No webhook is set: results of processing arrive by polling only "
                      f"(minutes later). Set it with {WEBHOOK_COMMAND}.")
    if ours and remote_url.rstrip("/") != ours.rstrip("/"):
        return _check(name, CheckStatus.FAILED,
                      f"Cloudflare sends results to {remote_url}, not to this tool ({ours}). "
                      f"Point it here with {WEBHOOK_COMMAND}.")
    local = backend.setting("CLOUDFLARE_WEBHOOK_SECRET", "") or ""
    remote = str(hook.get("secret") or "")
    if not local:
        return _check(name, CheckStatus.FAILED,
                      "Cloudflare signs its webhooks, but no webhook secret is entered here, "
                      "so the tool refuses them. Enter the secret, or run "
                      f"{WEBHOOK_COMMAND}.")
    if remote and not hmac.compare_digest(remote.encode(), local.encode()):
        return _check(name, CheckStatus.FAILED,
                      "The webhook secret entered here is not the one Cloudflare signs with, "
                      "so the tool refuses its webhooks. Enter the current secret, or run "
                      f"{WEBHOOK_COMMAND}.")
    return _check(name, CheckStatus.PASSED, f"Cloudflare sends results to {remote_url}, "
                                            "signed with the secret entered here.")
