"""LTI role URIs, in every form LMSs send, map to the tool's roles."""
from __future__ import annotations

import pytest

from lti_tool.access.roles import Role
from lti_tool.lti.roles import is_platform_admin, map_roles

M = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
MS = "http://purl.imsglobal.org/vocab/lis/v2/membership/"
INST = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
SYS = "http://purl.imsglobal.org/vocab/lis/v2/system/person#"

CASES = [
    # (description, roles, role, platform admin)
    ("moodle student", [M + "Learner"], Role.LEARNER, False),
    ("moodle teacher", [M + "Instructor"], Role.INSTRUCTOR, False),
    ("moodle site admin", [M + "Instructor", INST + "Administrator", SYS + "Administrator"],
     Role.INSTRUCTOR, True),
    ("short learner", ["Learner"], Role.LEARNER, False),
    ("short instructor", ["Instructor"], Role.INSTRUCTOR, False),
    ("canvas TA with principal role", [MS + "Instructor#TeachingAssistant", M + "Instructor"],
     Role.TA, False),
    ("short TA", ["TeachingAssistant"], Role.TA, False),
    ("canvas student", [INST + "Student", M + "Learner", SYS + "User"], Role.LEARNER, False),
    ("canvas teacher who is also account admin",
     [INST + "Instructor", M + "Instructor", INST + "Administrator", SYS + "SysAdmin"],
     Role.INSTRUCTOR, True),
    ("canvas designer", [M + "ContentDeveloper"], Role.READONLY, False),
    ("canvas observer", [M + "Mentor"], Role.READONLY, False),
    ("short mentor", ["Mentor"], Role.READONLY, False),
    ("context administrator", [M + "Administrator"], Role.ADMIN, False),
    ("learner and instructor in one course", [M + "Learner", M + "Instructor"],
     Role.INSTRUCTOR, False),
    ("institution admin only", [INST + "Administrator"], Role.ADMIN, True),
    ("system admin only", [SYS + "Administrator"], Role.ADMIN, True),
    ("institution faculty only", [INST + "Faculty"], Role.INSTRUCTOR, False),
    ("institution student only", [INST + "Student"], Role.LEARNER, False),
    ("LTI 1.1 urn instructor", ["urn:lti:role:ims/lis/Instructor"], Role.INSTRUCTOR, False),
    ("LTI 1.1 urn TA", ["urn:lti:role:ims/lis/Instructor/TeachingAssistant"], Role.TA, False),
    ("LTI 1.1 urn sysadmin", ["urn:lti:role:ims/lis/Learner", "urn:lti:sysrole:ims/lis/SysAdmin"],
     Role.LEARNER, True),
    ("nothing known", ["http://example.com/roles#Wizard"], Role.LEARNER, False),
    ("empty", [], Role.LEARNER, False),
    ("missing", None, Role.LEARNER, False),
    ("garbage entries", [None, 3, M + "Instructor"], Role.INSTRUCTOR, False),
    ("system user is no admin", [SYS + "User", M + "Learner"], Role.LEARNER, False),
]


@pytest.mark.parametrize("desc,roles,expected,admin", CASES, ids=[c[0] for c in CASES])
def test_role_mapping(desc, roles, expected, admin):
    assert map_roles(roles) == expected
    assert is_platform_admin(roles) is admin
