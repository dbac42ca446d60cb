"""The built-in demo LMS: a small LTI 1.3 platform for development and tests (DEMO_LMS=true).

Importing the package registers its `demo_` tables in the shared metadata.
"""
from lti_tool.demo_lms import models  # noqa: F401  (tables must be in db.metadata)
from lti_tool.demo_lms.registration import ensure_demo_registration  # noqa: F401
