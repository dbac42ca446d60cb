"""Every name the demo LMS speaks, named once: claims, roles, scopes, media types, progress values.

The platform side keeps its own copy on purpose: it plays an independent LMS, so a typo
in the tool's vocabulary must not be mirrored here and go unnoticed.
Sources: LTI Core 1.3 (imsglobal.org/spec/lti/v1p3), AGS 2.0, NRPS 2.0, Deep Linking 2.0.
"""
from enum import StrEnum

LTI_VERSION = "1.3.0"
PRODUCT_FAMILY_CODE = "demo-lms"
SIGNING_ALG = "RS256"
ID_TOKEN_TTL_SECONDS = 60  # Moodle 4.5's lifetime


class Claim:
    """JWT claim names (LTI Core 1.3 section 5, AGS 3.1, NRPS 3.6.1, DL 4.4)."""

    _LTI = "https://purl.imsglobal.org/spec/lti/claim/"
    MESSAGE_TYPE = _LTI + "message_type"
    VERSION = _LTI + "version"
    DEPLOYMENT_ID = _LTI + "deployment_id"
    TARGET_LINK_URI = _LTI + "target_link_uri"
    RESOURCE_LINK = _LTI + "resource_link"
    ROLES = _LTI + "roles"
    CONTEXT = _LTI + "context"
    TOOL_PLATFORM = _LTI + "tool_platform"
    LAUNCH_PRESENTATION = _LTI + "launch_presentation"
    CUSTOM = _LTI + "custom"
    LIS = _LTI + "lis"
    FOR_USER = _LTI + "for_user"
    AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
    NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
    _DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
    DL_SETTINGS = _DL + "deep_linking_settings"
    DL_CONTENT_ITEMS = _DL + "content_items"
    DL_DATA = _DL + "data"
    DL_MSG = _DL + "msg"
    DL_LOG = _DL + "log"
    DL_ERRORMSG = _DL + "errormsg"
    DL_ERRORLOG = _DL + "errorlog"


class MessageType(StrEnum):
    RESOURCE_LINK = "LtiResourceLinkRequest"
    DEEP_LINKING = "LtiDeepLinkingRequest"
    DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"
    SUBMISSION_REVIEW = "LtiSubmissionReviewRequest"
    # LTI Data Privacy Launch (draft): no context, no resource link; for_user names the
    # person whose data is managed (the user themselves, or a person an admin acts for).
    DATA_PRIVACY = "LtiDataPrivacyLaunchRequest"


LAUNCH_MESSAGE_TYPES = frozenset({MessageType.RESOURCE_LINK, MessageType.DEEP_LINKING,
                                  MessageType.SUBMISSION_REVIEW, MessageType.DATA_PRIVACY})


class CourseRole(StrEnum):
    """Roles a demo course knows (what its enrolment table stores)."""

    STUDENT = "student"
    TEACHER = "teacher"
    TA = "ta"


class RoleURI:
    """LIS role URIs as LMSs send them (LTI Core 1.3 appendix A.2)."""

    LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
    INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
    TEACHING_ASSISTANT = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
    INSTITUTION_ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"
    SYSTEM_ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator"


# A sub-role is sent with its principal role, as the spec's best practice asks (and Canvas does).
COURSE_ROLE_URIS = {
    CourseRole.STUDENT: [RoleURI.LEARNER],
    CourseRole.TEACHER: [RoleURI.INSTRUCTOR],
    CourseRole.TA: [RoleURI.INSTRUCTOR, RoleURI.TEACHING_ASSISTANT],
}
# Moodle sends a site admin as Instructor plus institution and system Administrator.
SITE_ADMIN_ROLE_URIS = [RoleURI.INSTRUCTOR, RoleURI.INSTITUTION_ADMIN, RoleURI.SYSTEM_ADMIN]

ROLE_LABELS = {
    RoleURI.LEARNER: "Learner", RoleURI.INSTRUCTOR: "Instructor",
    RoleURI.TEACHING_ASSISTANT: "Teaching assistant",
    RoleURI.INSTITUTION_ADMIN: "Institution administrator",
    RoleURI.SYSTEM_ADMIN: "System administrator",
}


def role_label(uri: str) -> str:
    """Return a person-friendly name of a role URI."""
    return ROLE_LABELS.get(uri) or uri.rsplit("#", 1)[-1]


CONTEXT_TYPE_COURSE = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"


class Scope:
    """OAuth2 scopes of the LTI Advantage services."""

    LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
    LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
    RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
    SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
    MEMBERSHIPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


AGS_SCOPES = [Scope.LINEITEM, Scope.LINEITEM_READONLY, Scope.RESULT_READONLY, Scope.SCORE]
ALL_SCOPES = [*AGS_SCOPES, Scope.MEMBERSHIPS]


class MediaType:
    LINEITEM = "application/vnd.ims.lis.v2.lineitem+json"
    LINEITEM_CONTAINER = "application/vnd.ims.lis.v2.lineitemcontainer+json"
    SCORE = "application/vnd.ims.lis.v1.score+json"
    RESULT_CONTAINER = "application/vnd.ims.lis.v2.resultcontainer+json"
    MEMBERSHIP_CONTAINER = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"


class ActivityProgress(StrEnum):
    INITIALIZED = "Initialized"
    STARTED = "Started"
    IN_PROGRESS = "InProgress"
    SUBMITTED = "Submitted"
    COMPLETED = "Completed"


class GradingProgress(StrEnum):
    FULLY_GRADED = "FullyGraded"
    PENDING = "Pending"
    PENDING_MANUAL = "PendingManual"
    FAILED = "Failed"
    NOT_READY = "NotReady"


CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRANT_TYPE_CLIENT_CREDENTIALS = "client_credentials"
DL_CONTENT_TYPE_RESOURCE_LINK = "ltiResourceLink"
NRPS_STATUS_ACTIVE = "Active"
NRPS_STATUS_INACTIVE = "Inactive"
