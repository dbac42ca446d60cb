"""What playback links are: bearer links for their lifetime, bound to the viewer's address
only where PLAYBACK_BIND_CLIENT_ADDRESS asks for it and the backend can (docs/security.md)."""
from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from lti_tool.storage.cloudflare.backend import CloudflareStorage
from lti_tool.storage.s3.backend import S3Storage
from tests import cloudflare_fake as cf
from tests.test_playback import grant, media_path, uploaded  # noqa: F401  (fixture)
from tests.test_s3_storage import cloudfront_settings
from tests.uploading import room, sample_mp4  # noqa: F401  (fixtures)

ELSEWHERE = {"REMOTE_ADDR": "198.51.100.7"}


def test_by_default_a_playback_link_works_from_any_address(client, room, uploaded):
    url = media_path(grant(client, room, "student", uploaded).get_json()["url"])
    assert client.get(url).status_code == 200
    assert client.get(url, environ_overrides=ELSEWHERE).status_code == 200


def test_a_bound_link_plays_only_from_the_viewers_address(app, client, room, uploaded):
    app.config["PLAYBACK_BIND_CLIENT_ADDRESS"] = True
    body = grant(client, room, "student", uploaded).get_json()
    url = media_path(body["url"])
    assert client.get(url).status_code == 200
    refused = client.get(url, environ_overrides=ELSEWHERE)
    assert refused.status_code == 403
    assert client.get(media_path(body["thumbnail_url"]),
                      environ_overrides=ELSEWHERE).status_code == 403


def test_a_bound_stream_token_carries_an_address_rule(app):
    app.config.update(cf.settings(), PLAYBACK_BIND_CLIENT_ADDRESS=True)
    with app.app_context():
        storage = CloudflareStorage(app.config)
        url = storage.playback("abc", viewer_id=1, video_id=2, ttl_seconds=60,
                               client_address="203.0.113.9").url
        unbound = storage.playback("abc", viewer_id=1, video_id=2, ttl_seconds=60).url
    claims = jwt.decode(url.split("/")[3], cf.rsa_key().public_key(), algorithms=["RS256"])
    assert claims["accessRules"] == [
        {"type": "ip.src", "action": "allow", "ip": ["203.0.113.9/32"]},
        {"type": "any", "action": "block"}]
    plain = jwt.decode(unbound.split("/")[3], cf.rsa_key().public_key(), algorithms=["RS256"])
    assert "accessRules" not in plain


def test_a_bound_cloudfront_url_has_an_ip_condition(app):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    app.config.update(STORAGE_BACKEND="s3", S3_BUCKET="videos")
    cloudfront_settings(app, key)
    with app.app_context():
        url = S3Storage(app.config).playback("videos/1.mp4", viewer_id=1, video_id=1,
                                             ttl_seconds=60, client_address="2001:db8::5").url
    encoded = parse_qs(urlsplit(url).query)["Policy"][0]
    policy = json.loads(base64.b64decode(
        encoded.replace("-", "+").replace("_", "=").replace("~", "/")))
    condition = policy["Statement"][0]["Condition"]
    assert condition["IpAddress"] == {"AWS:SourceIp": "2001:db8::5/128"}


@pytest.mark.parametrize("bound", [False, True])
def test_the_setting_decides_whether_grants_name_an_address(app, client, room, uploaded,
                                                           bound):
    app.config["PLAYBACK_BIND_CLIENT_ADDRESS"] = bound
    url = media_path(grant(client, room, "instructor", uploaded).get_json()["url"])
    status = client.get(url, environ_overrides=ELSEWHERE).status_code
    assert status == (403 if bound else 200)
