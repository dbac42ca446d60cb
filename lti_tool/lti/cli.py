"""Operator commands: `flask --app wsgi platforms ...` and `flask --app wsgi keys ...`."""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext

from lti_tool import audit
from lti_tool.audit import EventType
from lti_tool.errors import ToolError
from lti_tool.extensions import db
from lti_tool.lti import keys as tool_keys, registration_links
from lti_tool.lti.origins import HTTP, is_loopback_host, normalize_pattern, platform_origins
from lti_tool.lti.platforms import add_platform, holdings, remove_platform
from lti_tool.models import AccessToken, Deployment, Platform
from lti_tool.statuses import DeploymentPolicy
from lti_tool.web.formatting import format_moment

POLICIES = click.Choice([p.value for p in DeploymentPolicy])


BASE_URL_NOTE = ("PUBLIC_BASE_URL is not set: put the tool's public address (for example "
                 "https://video.example.edu) in front of the path above.")


def _base_url() -> str:
    """Return the tool's public address, or "" (callers then print BASE_URL_NOTE)."""
    return (current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")


def _note_base_url() -> None:
    if not _base_url():
        click.echo(BASE_URL_NOTE)


def platform_by_id(platform_id: int) -> Platform:
    """Return the platform an operator named, or stop the command saying there is none."""
    platform = db.session.get(Platform, platform_id)
    if platform is None:
        raise click.ClickException(f"No platform with id {platform_id}; see `platforms list`.")
    return platform


@click.group("platforms")
def platforms_cli():
    """Manage the LMS registrations (platforms) and their deployments."""


@platforms_cli.command("add")
@click.option("--issuer", required=True, help="The LMS's issuer (Moodle: the site's URL).")
@click.option("--client-id", required=True, help="The client id the LMS gave the tool.")
@click.option("--auth-login-url", required=True, help="OIDC auth URL (Moodle: mod/lti/auth.php).")
@click.option("--auth-token-url", required=True, help="OAuth2 token URL (mod/lti/token.php).")
@click.option("--key-set-url", "--jwks-url", required=True,
              help="The LMS's public keys URL (mod/lti/certs.php).")
@click.option("--deployment-id", "deployment_ids", multiple=True,
              help="A deployment id (repeat for several).")
@click.option("--name", default="", help="A name for people.")
@click.option("--audience", default=None, help="Token audience, when not the token URL.")
@click.option("--policy", type=POLICIES, default=DeploymentPolicy.REFUSE.value,
              show_default=True, help="What to do with an unknown deployment id.")
@with_appcontext
def add(issuer, client_id, auth_login_url, auth_token_url, key_set_url, deployment_ids, name,
        audience, policy):
    """Register an LMS by hand."""
    try:
        platform = add_platform(issuer=issuer, client_id=client_id, auth_login_url=auth_login_url,
                                auth_token_url=auth_token_url, key_set_url=key_set_url,
                                deployment_ids=deployment_ids, name=name, audience=audience,
                                policy=policy)
    except ToolError as err:
        raise click.ClickException(err.message) from None
    db.session.commit()
    issuer = platform.issuer
    click.echo(f"Registered platform {platform.id}: {issuer} (client id {client_id}).")
    click.echo(f"Its own login URL: {_base_url()}/lti/login/{platform.login_key}")
    _note_base_url()


@platforms_cli.command("list")
@with_appcontext
def list_platforms():
    """List the registrations, their deployments and login URLs."""
    platforms = list(db.session.scalars(db.select(Platform).order_by(Platform.id)))
    if not platforms:
        click.echo("No platform registered. Use `platforms add` or dynamic registration.")
        return
    for p in platforms:
        deps = ", ".join(d.deployment_id + (" (auto)" if d.auto_added else "")
                         for d in p.deployments) or "none"
        click.echo(f"[{p.id}] {p.name or p.issuer} {'' if p.active else '(disabled)'}".rstrip())
        click.echo(f"    issuer: {p.issuer}\n    client id: {p.client_id}")
        click.echo(f"    deployments: {deps}\n    new deployments: {p.deployment_policy}")
        click.echo(f"    login URL: {_base_url()}/lti/login/{p.login_key}")
    _note_base_url()


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise click.ClickException(f"{value!r} is not an http(s) URL.")
    return value


@platforms_cli.command("update")
@click.argument("platform_id", type=int)
@click.option("--login-url", "auth_login_url", help="OIDC auth URL (Moodle: mod/lti/auth.php).")
@click.option("--token-url", "auth_token_url", help="OAuth2 token URL (mod/lti/token.php).")
@click.option("--jwks-url", "--key-set-url", "key_set_url",
              help="The LMS's public keys URL (mod/lti/certs.php).")
@click.option("--auth-audience", help="Token audience, when not the token URL ('' clears it).")
@click.option("--name", help="A name for people.")
@with_appcontext
def update(platform_id, auth_login_url, auth_token_url, key_set_url, auth_audience, name):
    """Change a registration's LMS URLs (dynamic registration never does)."""
    platform = platform_by_id(platform_id)
    given = {"auth_login_url": _http_url(auth_login_url),
             "auth_token_url": _http_url(auth_token_url),
             "key_set_url": _http_url(key_set_url), "name": name}
    wanted = {field: value for field, value in given.items() if value is not None}
    if auth_audience is not None:
        wanted["auth_audience"] = auth_audience or None  # '' clears it
    changes = {}
    for field, value in wanted.items():
        if getattr(platform, field) != value:
            changes[field] = {"from": getattr(platform, field), "to": value}
            setattr(platform, field, value)
    if not changes:
        click.echo(f"Platform {platform_id}: nothing to change.")
        return
    if "key_set_url" in changes:  # keys from the old URL must not verify launches any more
        platform.jwks_cache = None
        platform.jwks_fetched_at = None
    if {"auth_token_url", "auth_audience"} & changes.keys():
        db.session.execute(db.delete(AccessToken).where(AccessToken.platform_id == platform.id))
    audit.record(EventType.PLATFORM_UPDATED, platform_id=platform.id, target=platform,
                 how="cli", changes=changes)
    db.session.commit()
    for field, change in changes.items():
        click.echo(f"Platform {platform_id}: {field} {change['from']} -> {change['to']}")


@platforms_cli.command("remove")
@click.argument("platform_id", type=int)
@click.option("--delete-videos", is_flag=True,
              help="Delete its videos from the storage too (refused while one is on legal "
                   "hold); without it they stay in the storage, listed as orphans.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def remove(platform_id, delete_videos, yes):
    """Remove a registration and everything that hangs off it (courses, users, videos' rows)."""
    platform = platform_by_id(platform_id)
    held = holdings(platform)
    click.echo(f"{platform.issuer} (client id {platform.client_id}) holds {held.courses} "
               f"courses, {held.users} users and {held.videos} videos, {held.stored_videos} "
               f"of them in the storage ({held.stored_bytes} bytes, {held.on_hold} on legal "
               f"hold).")
    fate = "deleted from" if delete_videos else "kept in"
    if not yes:
        click.confirm(f"Remove it, with its videos {fate} the storage?", abort=True)
    try:
        report = remove_platform(platform, delete_videos=delete_videos)
    except ToolError as err:
        raise click.ClickException(err.message) from None
    db.session.commit()
    click.echo(f"Removed platform {platform_id}: {report.deleted_from_storage} videos deleted "
               f"from the storage, {report.kept_in_storage} kept there.")
    for uid in report.storage_failures:
        click.echo(f"Could not delete {uid} from the storage; it stays as an orphan.")


@platforms_cli.command("policy")
@click.argument("platform_id", type=int)
@click.argument("policy", type=POLICIES)
@with_appcontext
def policy(platform_id, policy):
    """Allow or refuse launches from deployment ids the tool has not seen."""
    platform = platform_by_id(platform_id)
    platform.deployment_policy = policy
    audit.record(EventType.SETTING_CHANGED, platform_id=platform.id, target=platform,
                 deployment_policy=policy)
    db.session.commit()
    click.echo(f"Platform {platform_id}: new deployments are now {policy}ed.")


@platforms_cli.group("deployments")
def deployments():
    """Manage the deployment ids of a registration."""


@deployments.command("add")
@click.argument("platform_id", type=int)
@click.argument("deployment_id")
@with_appcontext
def add_deployment(platform_id, deployment_id):
    """Accept launches from one more deployment id."""
    platform = platform_by_id(platform_id)
    if any(d.deployment_id == deployment_id for d in platform.deployments):
        raise click.ClickException(f"Deployment {deployment_id} is already known.")
    deployment = Deployment(deployment_id=deployment_id)
    platform.deployments.append(deployment)
    db.session.flush()
    audit.record(EventType.DEPLOYMENT_ADDED, platform_id=platform.id, target=deployment,
                 deployment_id=deployment_id, how="cli")
    db.session.commit()
    click.echo(f"Platform {platform_id}: deployment {deployment_id} added.")


@platforms_cli.group("origins")
def origins():
    """Manage the extra browser origins of a registration (deep-link returns, framing)."""


def _extra_origin(value: str) -> str:
    pattern = normalize_pattern(value)
    if pattern is None:
        raise click.ClickException(
            f"{value!r} is not an origin: write scheme://host[:port] (for example "
            "https://lms.example.edu) or a wildcard such as https://*.example.edu.")
    if pattern.startswith(f"{HTTP}://") and not is_loopback_host(urlsplit(pattern).hostname):
        raise click.ClickException(f"{pattern} is plain http: only https origins can be allowed "
                                   "(http only on this machine, for development).")
    return pattern


@origins.command("list")
@click.argument("platform_id", type=int)
@with_appcontext
def list_origins(platform_id):
    """List every origin of a registration; `(added)` marks those an administrator added."""
    platform = platform_by_id(platform_id)
    extras = platform.extra_origins or []
    for origin in platform_origins(platform):
        click.echo(origin + ("  (added)" if origin in extras else ""))


@origins.command("add")
@click.argument("platform_id", type=int)
@click.argument("origin")
@with_appcontext
def add_origin(platform_id, origin):
    """Allow one more origin (an LMS host the registration's URLs do not name)."""
    platform = platform_by_id(platform_id)
    pattern = _extra_origin(origin)
    extras = list(platform.extra_origins or [])
    if pattern in extras:
        raise click.ClickException(f"{pattern} is already allowed for platform {platform_id}.")
    platform.extra_origins = extras + [pattern]  # a new list, so the JSON column is saved
    audit.record(EventType.SETTING_CHANGED, platform_id=platform.id, target=platform,
                 origin_added=pattern, how="cli")
    db.session.commit()
    click.echo(f"Platform {platform_id}: {pattern} allowed (deep-link returns and framing; "
               "running servers pick it up within a minute).")


@origins.command("remove")
@click.argument("platform_id", type=int)
@click.argument("origin")
@with_appcontext
def remove_origin(platform_id, origin):
    """Stop allowing an origin an administrator added."""
    platform = platform_by_id(platform_id)
    pattern = normalize_pattern(origin) or origin
    extras = list(platform.extra_origins or [])
    if pattern not in extras:
        raise click.ClickException(f"{origin} was not added to platform {platform_id}; "
                                   f"`platforms origins list {platform_id}` shows them.")
    extras.remove(pattern)
    platform.extra_origins = extras or None
    audit.record(EventType.SETTING_CHANGED, platform_id=platform.id, target=platform,
                 origin_removed=pattern, how="cli")
    db.session.commit()
    click.echo(f"Platform {platform_id}: {pattern} no longer allowed.")

@platforms_cli.group("links")
def links():
    """Make, list and revoke one-time registration links (see LTI_REGISTRATION)."""


@links.command("create")
@click.option("--expires-hours", type=click.IntRange(1, registration_links.MAX_LINK_HOURS),
              default=registration_links.DEFAULT_LINK_HOURS, show_default=True,
              help="How long the link may be used.")
@click.option("--note", default="", help="Who or what the link is for (shown in `links list`).")
@with_appcontext
def create_link(expires_hours, note):
    """Make a one-time registration link and print its URL (shown only now)."""
    link, token = registration_links.create_link(hours=expires_hours, note=note)
    path = current_app.url_map.bind("localhost").build("lti.register_with_link",
                                                        {"token": token})
    click.echo(f"Registration link {link.id}: one registration, until {_fmt(link.expires_at)}.")
    click.echo(f"    {_base_url()}{path}")
    click.echo("Paste it into the LMS's dynamic registration field (Moodle: Site administration"
               " > Plugins > Activity modules > External tool > Manage tools, \"Tool URL\" "
               "under LTI Advantage). It is not shown again.")
    _note_base_url()


@links.command("list")
@with_appcontext
def list_links():
    """List the registration links: state, expiry, the platform each registered."""
    found = registration_links.list_links()
    if not found:
        click.echo("No registration link. Make one with `platforms links create`.")
        return
    for link in found:
        used = f"  platform {link.platform_id}" if link.platform_id else ""
        note = f"  {link.note}" if link.note else ""
        click.echo(f"[{link.id}] {link.state().value:<8} created {_fmt(link.created_at)}  "
                   f"expires {_fmt(link.expires_at)}{used}{note}")


@links.command("revoke")
@click.argument("link_id", type=int)
@with_appcontext
def revoke_link(link_id):
    """Make an unused registration link unusable."""
    try:
        registration_links.revoke_link(link_id)
    except ToolError as err:
        raise click.ClickException(err.message) from None
    click.echo(f"Registration link {link_id} is revoked.")


@click.group("keys")
def keys_cli():
    """Manage the tool's signing keys."""


def _fmt(when: datetime | None) -> str:
    return format_moment(when.astimezone(timezone.utc)) if when else "-"


@keys_cli.command("list")
@with_appcontext
def list_keys():
    """List the tool's keys: which signs, which are still published."""
    for key, state in tool_keys.key_states():
        click.echo(f"{key.kid}  created {_fmt(key.created_at)}  retired {_fmt(key.retired_at)}"
                   f"  {state}")


@keys_cli.command("rotate")
@with_appcontext
def rotate():
    """Make a new signing key; the old one stays published for LTI_KEY_OVERLAP_DAYS."""
    store = tool_keys.key_store()
    store.signing_key()
    new = store.rotate()
    audit.record(EventType.KEY_ROTATED, kid=new.kid, commit=True)
    click.echo(f"New signing key {new.kid}. The previous key stays in the JWKS for "
               f"{current_app.config['LTI_KEY_OVERLAP_DAYS']} days.")
