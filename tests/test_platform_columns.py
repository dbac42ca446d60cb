"""The platform kept on video and outbox rows: set wherever rows are made, backfilled by the
migration, and the admin dashboard counts by it."""
from __future__ import annotations


from flask_migrate import downgrade, upgrade
import pytest
from sqlalchemy import inspect

from lti_tool.extensions import db
from lti_tool.grading import outbox
from lti_tool.models import ScoreOutbox, Submission, Video, utcnow
from tests.factories import make_assignment, make_course, make_platform, make_user
from tests.sql_statements import app_statements
from tests.test_migrations import _fresh_app
from tests.uploading import room  # noqa: F401  (fixture)

pytestmark = pytest.mark.postgres  # a migration with a backfill: must hold on PostgreSQL too

BEFORE = "e5b7c9d2a4f1"  # the revision before the columns
LOOKUP = "SELECT course.platform_id"  # what models.submission_platform asks


def _platform_of_course(app, course_id):
    with app.app_context():
        from lti_tool.models import Course
        return db.session.get(Course, course_id).platform_id


def test_an_upload_started_by_a_student_carries_its_platform_without_a_lookup(app, client,
                                                                              room):
    launch = room.launch_as("student")
    with app_statements(app) as seen:
        resp = client.post("/api/uploads", headers={"X-LTI-Launch": launch.id},
                           json={"filename": "clip.mp4", "size_bytes": 1000,
                                 "content_type": "video/mp4"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert not [s for s in seen if s.startswith(LOOKUP)]
    with app.app_context():
        video = db.session.get(Video, resp.get_json()["video_id"])
        assert video.platform_id == _platform_of_course(app, room.course_id)


def _student_submission(platform_name: str):
    platform = make_platform(name=platform_name)
    course = make_course(platform)
    assignment = make_assignment(course)
    student = make_user(platform, course)
    submission = Submission(assignment_id=assignment.id, user_id=student.id)
    db.session.add(submission)
    db.session.flush()
    return platform, submission


def test_a_queued_score_carries_its_platform_without_a_lookup(app):
    with app.app_context():
        make_platform()  # a platform of another id first: the right one is not the only one
        platform, submission = _student_submission("Queued")
        with app_statements(app) as seen:
            item = outbox.queue_score(submission, {"scoreGiven": 1}, utcnow())
        assert not [s for s in seen if s.startswith(LOOKUP)]
        assert db.session.get(ScoreOutbox, item.id).platform_id == platform.id


def test_rows_made_without_the_platform_get_their_submissions(app):
    with app.app_context():
        first, first_submission = _student_submission("First")
        second, second_submission = _student_submission("Second")
        video = Video(submission_id=second_submission.id, attempt=1, backend="local")
        score = ScoreOutbox(submission_id=first_submission.id, payload={}, score_timestamp=utcnow())
        db.session.add_all([video, score])
        db.session.flush()
        assert (video.platform_id, score.platform_id) == (second.id, first.id)
        # Core inserts of many rows too (bench and scripts insert in bulk).
        db.session.execute(db.insert(Video), [
            {"submission_id": first_submission.id, "attempt": 2, "backend": "local"},
            {"submission_id": second_submission.id, "attempt": 2, "backend": "local"}])
        assert dict(db.session.execute(db.select(Video.submission_id, Video.platform_id)
                                       .where(Video.attempt == 2)).all()) == {
            first_submission.id: first.id, second_submission.id: second.id}


def test_the_migration_fills_the_platform_of_existing_rows_and_downgrade_removes_it(
        app_config):
    app = _fresh_app(app_config)
    with app.app_context():
        # Platforms down to submissions through today's models, then the schema taken back to
        # BEFORE (later migrations drop their columns, the rows stay); the videos and scores
        # as BEFORE's tables hold them, without the column.
        upgrade()
        expected = {_student_submission(f"P{n}")[1].id: None for n in (1, 2)}
        for submission_id in expected:
            expected[submission_id] = db.session.get(Submission, submission_id).assignment \
                .course.platform_id
        db.session.commit()
        db.session.remove()
        downgrade(revision=BEFORE)
        now = utcnow()
        with db.engine.begin() as conn:
            for submission_id in expected:
                conn.execute(db.text(
                    "INSERT INTO video (submission_id, attempt, backend, status, has_thumbnail, "
                    "legal_hold, processing_tries, created_at) "
                    "VALUES (:s, 1, 'local', 'ready', false, false, 0, :at)"),
                    {"s": submission_id, "at": now})
                conn.execute(db.text(
                    "INSERT INTO score_outbox (submission_id, payload, score_timestamp, status, "
                    "attempts, next_attempt_at, created_at) "
                    "VALUES (:s, '{}', :at, 'pending', 0, :at, :at)"),
                    {"s": submission_id, "at": now})
        db.session.remove()
        upgrade()
        with db.engine.connect() as conn:
            for table in ("video", "score_outbox"):
                rows = dict(conn.execute(db.text(
                    f"SELECT submission_id, platform_id FROM {table}")).all())
                assert rows == expected, table
                column = next(c for c in inspect(conn).get_columns(table)
                              if c["name"] == "platform_id")
                assert column["nullable"] is False
        downgrade(revision=BEFORE)
        for table in ("video", "score_outbox"):
            assert "platform_id" not in {c["name"] for c in inspect(db.engine).get_columns(table)}
        downgrade(revision="base")
        db.engine.dispose()
