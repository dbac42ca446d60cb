"""Every LTI claim URI, message type, scope and postMessage subject the tool uses, named once.

Sources: LTI 1.3 core (section 5), LTI AGS 2.0, NRPS 2.0, Deep Linking 2.0, LTI Dynamic
Registration 1.0, LTI Client-side postMessages and LTI Platform Storage.
"""
from __future__ import annotations

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"

LTI_VERSION_1_3 = "1.3.0"

# LTI 1.3 core, section 5.3 (required message claims) and 5.4 (optional).
MESSAGE_TYPE = LTI + "message_type"
VERSION = LTI + "version"
DEPLOYMENT_ID = LTI + "deployment_id"
TARGET_LINK_URI = LTI + "target_link_uri"
RESOURCE_LINK = LTI + "resource_link"
ROLES = LTI + "roles"
CONTEXT = LTI + "context"
TOOL_PLATFORM = LTI + "tool_platform"
LAUNCH_PRESENTATION = LTI + "launch_presentation"
CUSTOM = LTI + "custom"
LIS = LTI + "lis"
ROLE_SCOPE_MENTOR = LTI + "role_scope_mentor"
FOR_USER = LTI + "for_user"  # submission review, data privacy launch

# Services.
AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"

# Deep Linking 2.0.
DL_SETTINGS = DL + "deep_linking_settings"
DL_CONTENT_ITEMS = DL + "content_items"
DL_DATA = DL + "data"
DL_MSG = DL + "msg"

# Vendor claims worth keeping.
CANVAS_CUSTOM = "https://www.instructure.com/placement"
# The custom parameter the registration asks for, and the Canvas variable that fills it
# with the assignment's due date (ISO 8601). A platform that does not know the variable
# sends it back unreplaced ("$Canvas...") or leaves it out: no due date then.
CUSTOM_LMS_DUE_AT = "lms_due_at"
CANVAS_DUE_AT_VARIABLE = "$Canvas.assignment.dueAt.iso8601"
# Our custom parameter from deep linking: "1" when the assignment accepts sound-only
# submissions (read at the first launch, like the deadlines; changed later in the tool).
CUSTOM_ACCEPTS_AUDIO = "accepts_audio"

# Message types (LTI 1.3 core 5.3.1, Deep Linking 2.0 4.4.1, AGS submission review).
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"
SUBMISSION_REVIEW_REQUEST = "LtiSubmissionReviewRequest"
# LTI Data Privacy Launch (1EdTech, draft): a person (or an administrator acting for the
# person in `for_user`) manages what the tool holds about them. Platforms send it as
# "LtiDataPrivacyLaunchRequest" (Canvas, Moodle's list, Sakai); the earlier draft and
# pylti1p3 name it "DataPrivacyLaunchRequest": both are accepted, the first advertised.
DATA_PRIVACY_REQUEST = "LtiDataPrivacyLaunchRequest"
DATA_PRIVACY_REQUEST_DRAFT = "DataPrivacyLaunchRequest"
DATA_PRIVACY_REQUESTS = (DATA_PRIVACY_REQUEST, DATA_PRIVACY_REQUEST_DRAFT)
SUPPORTED_MESSAGE_TYPES = (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST, SUBMISSION_REVIEW_REQUEST,
                           *DATA_PRIVACY_REQUESTS)

# Service scopes the tool asks for (AGS 2.0 section 3.1, NRPS 2.0 section 2.2).
SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
TOOL_SCOPES = (SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY, SCOPE_RESULT_READONLY, SCOPE_SCORE,
               SCOPE_NRPS)

# LTI Dynamic Registration 1.0, sections 3.4 and 3.5.
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"

# LTI Client-side postMessages / Platform Storage: both the bare and the namespaced subjects
# (Brightspace sends and expects `org.imsglobal.lti.*`).
PM_CLOSE = "org.imsglobal.lti.close"
PM_PUT_DATA = ("lti.put_data", "org.imsglobal.lti.put_data")
PM_GET_DATA = ("lti.get_data", "org.imsglobal.lti.get_data")
