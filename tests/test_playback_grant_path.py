"""What a playback grant reads (bench/README.md, issue 14 round 5): the video's access columns
in one query without ORM objects, and the local backend's meta.json once per process while
the file stays, seen again when processing (here or in another process) replaces it."""
from __future__ import annotations

import json
import os
import pathlib
import re
import time

import pytest
from sqlalchemy import event

from lti_tool.extensions import db
from lti_tool.models import Course, Submission, Video
from lti_tool.storage import storage_for
from lti_tool.storage.base import Derived
from lti_tool.file_cache import SETTLE_SECONDS as META_SETTLE_SECONDS
from lti_tool.storage.local.backend import META_FILE
from tests.sql_statements import app_statements
from tests.test_playback import uploaded  # noqa: F401  (the student's ready local video)
from tests.uploading import room, sample_mp4  # noqa: F401

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)


def _grant(client, room, who, video_id, launch=None):
    resp = client.get(f"/api/videos/{video_id}/playback",
                      headers={"X-LTI-Launch": (launch or room.launch_as(who)).id})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _meta_path(app, video_id) -> pathlib.Path:
    with app.app_context():
        uid = db.session.get(Video, video_id).storage_uid
        folder = storage_for("local")._dir(uid)
    assert not (folder / Derived.RENDITION).exists()  # the original plays: its type counts
    return folder / META_FILE


def _settled(path: pathlib.Path) -> int:
    """Date the file back past the settle time (a file just written is not kept); return
    its new mtime in ns."""
    then = time.time_ns() - int((META_SETTLE_SECONDS + 10) * 1e9)
    os.utime(path, ns=(then, then))
    return then


@pytest.mark.parametrize("who", ["student", "instructor"])
def test_a_grant_loads_no_video_submission_or_course_object(client, room, uploaded, who):
    """The grant reads the columns it needs in one Core query; who may play is decided from
    them (tests/test_playback.py checks who may and who may not)."""
    launch = room.launch_as(who)
    loaded = []

    def _loaded(target, context):
        loaded.append(type(target).__name__)
    for model in (Video, Submission, Course):
        event.listen(model, "load", _loaded)
    try:
        body = _grant(client, room, who, uploaded, launch)
    finally:
        for model in (Video, Submission, Course):
            event.remove(model, "load", _loaded)
    assert body["kind"] == "file" and body["url"]
    assert loaded == []


def test_a_grant_does_not_read_meta_json_while_it_stays(app, client, room, uploaded,
                                                         monkeypatch):
    meta = _meta_path(app, uploaded)
    _replace(meta, dict(json.loads(meta.read_text()), check={"mime_type": "video/webm"}))
    _settled(meta)
    first = _grant(client, room, "student", uploaded)  # reads it once, and keeps it
    assert first["mime_type"] == "video/webm"
    reads = []
    real_open = pathlib.Path.open

    def _open(self, *args, **kwargs):
        if self.name == META_FILE:
            reads.append(self)
        return real_open(self, *args, **kwargs)
    monkeypatch.setattr(pathlib.Path, "open", _open)  # read_text and read_bytes open through it
    for _ in range(3):
        assert _grant(client, room, "instructor", uploaded)["mime_type"] == "video/webm"
    media = client.get(re.sub(r"^https?://[^/]+", "", first["url"]))
    assert media.status_code == 200 and media.mimetype == "video/webm"
    assert reads == []


def test_a_reprocessed_videos_new_metadata_is_seen_at_the_next_grant(app, client, room,
                                                                     uploaded):
    """meta.json replaced whole, as a processing worker in another process does (a new
    file moved over it): seen at once, even with the same size and the same mtime."""
    meta = _meta_path(app, uploaded)
    data = json.loads(meta.read_text())
    _replace(meta, dict(data, check={"mime_type": "video/webm"}))  # as checked before
    mtime = _settled(meta)
    assert _grant(client, room, "student", uploaded)["mime_type"] == "video/webm"
    size = meta.stat().st_size
    _replace(meta, dict(data, check={"mime_type": "audio/webm"}), mtime_ns=mtime)
    assert (meta.stat().st_size, meta.stat().st_mtime_ns) == (size, mtime)
    assert _grant(client, room, "student", uploaded)["mime_type"] == "audio/webm"


def _replace(path: pathlib.Path, data: dict, mtime_ns: int | None = None) -> None:
    """Write a new file and move it over `path`, as another process's _write_meta does."""
    tmp = path.with_name(path.name + ".other-process")
    tmp.write_text(json.dumps(data))
    if mtime_ns is not None:
        os.utime(tmp, ns=(mtime_ns, mtime_ns))
    os.replace(tmp, path)


@pytest.mark.parametrize("who", ["student", "instructor", "ta"])
def test_a_grant_in_the_launchs_course_reads_no_enrollment_again(app, client, room, uploaded,
                                                                  who):
    """The viewer's role in the launch's course came with the launch: a grader's grant is the
    launch, the video and the audit insert, as the owner's is (who may not: test_playback)."""
    launch = room.launch_as(who)
    _grant(client, room, who, uploaded, launch)  # warm: the per-process caches
    with app_statements(app) as seen:
        _grant(client, room, who, uploaded, launch)
    assert not [s for s in seen if "FROM enrollment" in s and "launch" not in s], seen
    assert len([s for s in seen if s.startswith(("SELECT", "INSERT"))]) == 3, seen
