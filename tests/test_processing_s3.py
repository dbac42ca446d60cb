"""Processing on S3 (moto's server over HTTP): the worker streams the object from the
bucket and writes the rendition and thumbnail back beside it; the original is untouched."""
from __future__ import annotations

import requests

from lti_tool.processing import messages
from lti_tool.statuses import VideoStatus
from lti_tool.storage import storage_for
from lti_tool.storage.base import Derived
from lti_tool.storage.s3.backend import derived_key
from tests.processing_fixtures import (ffprobe_streams, sample_file,  # noqa: F401
                                       samples_dir, video_row)

from .s3_server import (admin_client, app_config, moto_server, s3_bucket,  # noqa: F401
                        student)


def upload(client, headers, data: bytes, name: str) -> int:
    """Upload through the tool's multipart API as the browser does; return the video id."""
    ticket = client.post("/api/uploads", json={"filename": name, "size_bytes": len(data),
                                               "content_type": "video/x-ms-wmv"},
                         headers=headers).get_json()
    base = f"/api/uploads/{ticket['video_id']}/multipart"
    signed = client.post(base + "/sign", json={"part_numbers": [1]}, headers=headers)
    part = signed.get_json()["parts"][0]
    etag = requests.put(part["url"], data=data, timeout=30).headers["ETag"]
    done = client.post(base + "/complete", json={"parts": [{"part_number": 1, "etag": etag}]},
                       headers=headers)
    assert done.status_code == 200, done.get_json()
    return ticket["video_id"]


def test_a_wmv_in_the_bucket_gets_a_rendition_and_thumbnail_beside_it(
        app, client, student, sample_file, moto_server, s3_bucket, tmp_path):
    source = sample_file("wmv")
    video = video_row(app, upload(client, student, source.read_bytes(), source.name))
    assert video.status == VideoStatus.READY and video.has_thumbnail
    assert video.duration_seconds and (video.width, video.height) == (320, 240)
    admin = admin_client(moto_server)
    original = admin.get_object(Bucket=s3_bucket, Key=video.storage_uid)["Body"].read()
    assert original == source.read_bytes()
    rendition = tmp_path / "rendition.mp4"
    admin.download_file(s3_bucket, derived_key(video.storage_uid, Derived.RENDITION),
                        str(rendition))
    assert ffprobe_streams(rendition)["video"]["codec_name"] == "h264"
    grant = client.get(f"/api/videos/{video.id}/playback", headers=student).get_json()
    assert grant["mime_type"] == "video/mp4" and grant["thumbnail_url"]
    assert requests.get(grant["url"], timeout=30).content == rendition.read_bytes()
    thumb = requests.get(grant["thumbnail_url"], timeout=30)
    assert thumb.content[:2] == b"\xff\xd8"
    # The hover strip is stored beside it too, and signed for the instructor's list.
    assert video.has_strip
    with app.app_context():
        strip_url = storage_for("s3").strip_url(video.storage_uid, viewer_id=1,
                                                video_id=video.id, ttl_seconds=60)
    strip = requests.get(strip_url, timeout=30)
    assert strip.status_code == 200 and strip.content[:2] == b"\xff\xd8"
    assert strip.content == admin.get_object(Bucket=s3_bucket, Key=derived_key(
        video.storage_uid, Derived.STRIP))["Body"].read()
    # Deleting the video deletes what processing made of it.
    with app.app_context():
        storage_for("s3").delete(video.storage_uid)
    left = admin.list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0)
    assert left == 0


def test_not_a_video_in_the_bucket_is_refused_from_its_first_bytes(
        app, client, student, sample_file, monkeypatch):
    from lti_tool.storage.s3.backend import S3Storage

    def never(*args):
        raise AssertionError("the whole object was downloaded")

    monkeypatch.setattr(S3Storage, "original_file", never)
    video = video_row(app, upload(client, student, sample_file("text_named_mp4").read_bytes(),
                            "essay.mp4"))
    assert (video.status, video.error_code) == (VideoStatus.ERROR, messages.NOT_A_VIDEO)
