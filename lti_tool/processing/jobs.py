"""The sweep: videos left in processing by a worker that died (killed, machine lost) or by
a queue that lost its job are put on the queue again. Scheduled by lti_tool.jobs."""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, func, or_

from lti_tool.extensions import db
from lti_tool.models import Video, utcnow
from lti_tool.processing.queue import enqueue
from lti_tool.statuses import VideoStatus
from lti_tool.storage.base import Capability
from lti_tool.storage.jobs import backends_with

log = logging.getLogger(__name__)

SWEEP_BATCH = 200


def requeue_stalled() -> int:
    """Enqueue processing videos whose worker's lease lapsed (or that no worker took);
    return how many."""
    now = utcnow()
    waited = now - timedelta(seconds=int(current_app.config["PROCESSING_LEASE_SECONDS"]))
    since = func.coalesce(Video.uploaded_at, Video.created_at)
    ids = db.session.scalars(
        db.select(Video.id).where(
            Video.status == VideoStatus.PROCESSING,
            Video.backend.in_(list(backends_with(Capability.PROCESSING))),
            or_(Video.processing_lease_until < now,
                and_(Video.processing_lease_until.is_(None), since < waited)))
        .order_by(Video.id).limit(SWEEP_BATCH)).all()
    db.session.commit()
    for video_id in ids:
        enqueue(video_id)
    if ids:
        log.info("re-enqueued %d stalled processing jobs: %s", len(ids), ids)
    return len(ids)
