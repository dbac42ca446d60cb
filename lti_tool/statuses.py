"""Every status name the tool stores, named once: videos, scores on their way to the LMS,
registration policies and links."""
from enum import StrEnum


class VideoStatus(StrEnum):
    """Lifecycle of one uploaded video (one attempt)."""

    PENDING = "pending"  # upload created, no byte yet
    UPLOADING = "uploading"
    PROCESSING = "processing"  # all bytes in, being checked / transcoded
    READY = "ready"
    ERROR = "error"
    DELETED = "deleted"


# How a video's status reads for people, on the instructor's and the admin's pages alike.
VIDEO_STATUS_LABELS = {VideoStatus.PENDING: "Pending", VideoStatus.UPLOADING: "Uploading",
                       VideoStatus.PROCESSING: "Processing", VideoStatus.READY: "Ready",
                       VideoStatus.ERROR: "Error", VideoStatus.DELETED: "Deleted"}


def video_status_label(status: str) -> str:
    """Return a video status as people read it ("ready" -> "Ready"); unknown names as given."""
    return VIDEO_STATUS_LABELS.get(status, status)


FINAL_VIDEO_STATES = frozenset({VideoStatus.READY, VideoStatus.ERROR, VideoStatus.DELETED})
# An attempt whose bytes are still on their way (a newer attempt abandons it).
UNFINISHED_VIDEO_STATES = frozenset({VideoStatus.PENDING, VideoStatus.UPLOADING})


class OutboxStatus(StrEnum):
    """Delivery state of one score on its way to the LMS gradebook."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up until someone retries; reason kept
    SUPERSEDED = "superseded"  # a newer score for the same student replaced it


class DeploymentPolicy(StrEnum):
    """What to do with a deployment id we have not seen from a known registration."""

    ALLOW = "allow"  # record it and let the launch through
    REFUSE = "refuse"  # refuse the launch with a message for the admin


class RegistrationMode(StrEnum):
    """Who may register the tool by LTI Dynamic Registration (LTI_REGISTRATION)."""

    OPEN = "open"  # anyone; each registration is its own tenant
    LINK = "link"  # only with a one-time registration link an administrator made


class RegistrationLinkState(StrEnum):
    """Where a one-time registration link stands."""

    UNUSED = "unused"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"


class DueSource(StrEnum):
    """Where an assignment's due date came from (Assignment.due_source)."""

    LMS = "lms"  # the LMS gradebook column's endDateTime (AGS line item)
    LMS_ASSIGNMENT = "lms-assignment"  # the LMS assignment's due date, in a custom parameter
    TOOL = "tool"  # set by an instructor in the tool; the line item no longer overwrites it
