"""Privacy: one user's export is complete and only theirs; erasure leaves nothing of them
behind (database and storage), one audit entry without personal data stays."""
from __future__ import annotations

import json

import pytest

from lti_tool import audit
from lti_tool.access.roles import Role
from lti_tool.extensions import db
from lti_tool.grading import service as grading
from lti_tool.models import AuditEvent, Comment, Submission, Video, utcnow
from lti_tool.privacy.erase import HeldVideos, erase_user
from lti_tool.access.users import find_user
from lti_tool.privacy.export import export_user
from lti_tool.statuses import OutboxStatus
from tests.factories import Classroom, make_launch, make_user

from .housekeeping_fixtures import make_video, put_local_file, queue_outbox
from .s3_server import moto_server, s3_bucket, s3_settings  # noqa: F401  (fixtures)

SUB, NAME, EMAIL = "moodle-77731", "Zelda Quux", "zelda.quux@example.edu"


class World:
    """A course where the student Zelda has handed in two attempts and been graded."""

    def __init__(self, app, backend="local", uids=("zq-1", "zq-2")):
        self.room = room = Classroom()
        self.zelda = make_user(room.platform, room.course, Role.LEARNER, name=NAME,
                               sub=SUB, email=EMAIL)
        self.videos = [make_video(room.assignment, self.zelda, backend=backend,
                                  storage_uid=uid, filename=f"zelda-{n}.mp4")
                       for n, uid in enumerate(uids, 1)]
        if backend == "local":
            self.folders = [put_local_file(app, uid) for uid in uids]
        self.submission = self.videos[0].submission
        self.submission.submitted_at = utcnow()
        grading.save_grade(self.submission, room.instructor, 8.5, "Lovely framing, Zelda")
        grading.add_comment(self.submission, room.instructor, 3.0, "Great opening",
                            self.videos[1])
        queue_outbox(self.submission, OutboxStatus.DELIVERED, scoreGiven=8.5, userId=SUB)
        make_launch(self.zelda, room.course, room.assignment, Role.LEARNER, sub=SUB,
                    email=EMAIL, name=NAME)
        event = audit.record(audit.EventType.UPLOAD_CREATED, actor=self.zelda,
                             course_id=room.course.id, target=self.videos[0], attempt=1)
        event.ip = "198.51.100.7"
        audit.record(audit.EventType.PLAYBACK_GRANTED, actor=room.instructor,
                     target=self.videos[1])
        # Someone else's work, which neither export nor erasure may touch.
        self.other_video = make_video(room.assignment, room.other_student,
                                      storage_uid="other-1", filename="other.mp4")
        if backend == "local":
            self.other_folder = put_local_file(app, "other-1")
        db.session.commit()


@pytest.fixture
def world(app):
    with app.app_context():
        yield World(app)


def everything_in_the_database() -> str:
    """Every row of every table of the tool, as text."""
    text = []
    for table in db.metadata.sorted_tables:
        text += [repr(tuple(row)) for row in db.session.execute(table.select())]
    return "\n".join(text)


def test_export_holds_everything_about_the_user(world):
    document = export_user(world.zelda)
    assert document["profile"]["sub"] == SUB and document["profile"]["email"] == EMAIL
    assert document["enrollments"][0]["role"] == Role.LEARNER
    [submission] = document["submissions"]
    assert submission["grade"]["score"] == 8.5
    assert submission["grade"]["feedback"] == "Lovely framing, Zelda"
    assert [v["filename"] for v in submission["videos"]] == ["zelda-1.mp4", "zelda-2.mp4"]
    assert [c["body"] for c in submission["comments_received"]] == ["Great opening"]
    assert any(s["score"].get("scoreGiven") == 8.5 for s in submission["scores_sent_to_lms"])
    assert document["launches"][0]["claims"]["email"] == EMAIL
    events = {(e["event"], e["by_this_user"]) for e in document["audit_log"]}
    assert ("upload_created", True) in events  # what she did
    assert ("playback_granted", True) in events  # an instructor watching her video
    assert json.loads(json.dumps(document, default=str)) == json.loads(
        json.dumps(document, default=str))  # one JSON document


def test_export_holds_nothing_about_anyone_else(world):
    text = json.dumps(export_user(world.zelda), default=str)
    assert "other.mp4" not in text and world.room.other_student.sub not in text


def test_a_graders_export_has_the_comments_and_grades_they_gave(world):
    document = export_user(world.room.instructor)
    assert [c["body"] for c in document["comments_written"]] == ["Great opening"]
    assert document["grades_given"][0]["score"] == 8.5


def test_export_by_command_writes_a_json_file_and_is_audited(world, runner, tmp_path):
    out = tmp_path / "zelda.json"
    result = runner.invoke(args=["privacy", "export", str(world.room.platform.id), SUB,
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["profile"]["name"] == NAME
    assert db.session.scalar(db.select(AuditEvent).filter_by(event_type="user_data_exported"))


def test_unknown_user_is_a_clear_refusal(world, runner):
    result = runner.invoke(args=["privacy", "export", str(world.room.platform.id), "nobody"])
    assert result.exit_code != 0 and "holds nothing about this user" in result.output


def test_erasure_leaves_nothing_of_the_user_behind(world, app):
    platform_id = world.room.platform.id
    counts = erase_user(world.zelda)
    assert counts["videos_deleted_from_storage"] == 2 and counts["submissions"] == 1
    assert not any(folder.exists() for folder in world.folders)
    dump = everything_in_the_database()
    for personal in (SUB, NAME, EMAIL, "Zelda", "zelda-1.mp4", "198.51.100.7",
                     "Lovely framing"):
        assert personal not in dump, personal
    assert find_user_or_none(platform_id, SUB) is None
    # Someone else's work is untouched.
    assert world.other_folder.exists()
    assert db.session.get(Video, world.other_video.id).status == "ready"
    # One entry says it happened, with counts only.
    event = db.session.scalar(db.select(AuditEvent).filter_by(event_type="user_data_deleted"))
    assert event.platform_id == platform_id and event.actor_id is None
    assert event.data == counts


def find_user_or_none(platform_id, sub):
    try:
        return find_user(platform_id, sub)
    except Exception:
        return None


def test_erasing_a_grader_keeps_their_comments_on_others_work_unlinked(world):
    instructor = world.room.instructor
    erase_user(instructor)
    comment = db.session.scalar(db.select(Comment))
    assert comment.body == "Great opening" and comment.author_id is None
    assert db.session.get(Submission, world.submission.id).graded_by_id is None
    assert instructor.name not in everything_in_the_database()


def test_a_video_under_legal_hold_stops_the_erasure_before_anything_changes(world):
    world.videos[1].legal_hold = True
    db.session.commit()
    with pytest.raises(HeldVideos, match="legal hold"):
        erase_user(world.zelda)
    assert all(folder.exists() for folder in world.folders)
    assert find_user(world.room.platform.id, SUB) is not None


def test_erasure_by_command_asks_first(world, runner):
    platform = str(world.room.platform.id)
    result = runner.invoke(args=["privacy", "delete", platform, SUB], input="n\n")
    assert result.exit_code != 0 and find_user(world.room.platform.id, SUB)
    result = runner.invoke(args=["privacy", "delete", platform, SUB, "--yes",
                                 "--request", "REQ-12"])
    assert result.exit_code == 0 and "videos deleted from storage 2" in result.output
    event = db.session.scalar(db.select(AuditEvent).filter_by(event_type="user_data_deleted"))
    assert event.data["request"] == "REQ-12"


class TestOnS3:
    @pytest.fixture
    def app_config(self, app_config, moto_server, s3_bucket):
        app_config.update(s3_settings(moto_server, s3_bucket))
        return app_config

    def test_erasure_deletes_the_objects_from_the_bucket(self, app, moto_server, s3_bucket):
        from .s3_server import admin_client
        s3 = admin_client(moto_server)
        keys = ["videos/zq-1.mp4", "videos/zq-2.mp4"]
        for key in keys:
            s3.put_object(Bucket=s3_bucket, Key=key, Body=b"bytes")
        with app.app_context():
            world = World(app, backend="s3", uids=keys)
            erase_user(world.zelda)
        assert "Contents" not in s3.list_objects_v2(Bucket=s3_bucket)


class TestOnCloudflare:
    @pytest.fixture
    def app_config(self, app_config):
        from . import cloudflare_fake as cf
        app_config.update(cf.settings())
        return app_config

    def test_erasure_deletes_the_videos_at_stream(self, app):
        import responses

        from . import cloudflare_fake as cf
        with app.app_context():
            world = World(app, backend="cloudflare", uids=("cfz1", "cfz2"))
            with responses.RequestsMock() as api:
                for uid in ("cfz1", "cfz2"):
                    api.add(responses.DELETE, f"{cf.STREAM}/{uid}", json=cf.envelope(""))
                erase_user(world.zelda)
                assert sorted(c.request.url.rsplit("/", 1)[1] for c in api.calls) == \
                    ["cfz1", "cfz2"]


def test_privacy_commands_find_a_user_as_admins_add_does(world, runner):
    """One lookup serves both: by LTI sub, or by email (any case)."""
    platform = str(world.room.platform.id)
    result = runner.invoke(args=["privacy", "export", platform, EMAIL.upper()])
    assert result.exit_code == 0 and f'"sub": "{SUB}"' in result.output
    missing = runner.invoke(args=["privacy", "export", platform, "nobody@example.edu"])
    assert missing.exit_code != 0 and "has no user with sub or email" in missing.output


def test_export_lists_phone_upload_links_but_never_their_codes(world):
    from datetime import timedelta

    from lti_tool.models import HandoffLink
    now = utcnow()
    mine = HandoffLink(code_hash="a" * 64, user_id=world.zelda.id,
                       assignment_id=world.room.assignment.id, video_id=world.videos[1].id,
                       expires_at=now + timedelta(minutes=10), claimed_at=now)
    theirs = HandoffLink(code_hash="b" * 64, user_id=world.room.other_student.id,
                         assignment_id=world.room.assignment.id,
                         expires_at=now + timedelta(minutes=10))
    db.session.add_all([mine, theirs])
    db.session.commit()
    document = export_user(world.zelda)
    [link] = document["phone_upload_links"]
    assert link["assignment_id"] == world.room.assignment.id
    assert link["video_id"] == world.videos[1].id and link["claimed_at"]
    text = json.dumps(document, default=str)
    assert "a" * 64 not in text and "b" * 64 not in text
