"""What a user may be in a course, named once (mapped from LTI role URIs in lti/roles.py)."""
from enum import StrEnum


class Role(StrEnum):
    """What a user may do in one course, mapped from LTI role URIs."""

    LEARNER = "learner"
    INSTRUCTOR = "instructor"
    TA = "ta"
    READONLY = "readonly"  # mentors, content developers: may view, not grade
    ADMIN = "admin"


STAFF_ROLES = frozenset({Role.INSTRUCTOR, Role.TA, Role.READONLY, Role.ADMIN})
GRADER_ROLES = frozenset({Role.INSTRUCTOR, Role.TA, Role.ADMIN})
