"""Find a user of a platform by what an operator knows of them: their LTI `sub` or email.

One lookup for every operator command that names a person (`admins add|remove`,
`privacy export|delete`): the same name finds the same person everywhere.
"""
from __future__ import annotations

from lti_tool.errors import NotFound
from lti_tool.extensions import db
from lti_tool.models import User


def find_user(platform_id: int, who: str) -> User:
    """Return the user of the platform whose LTI `sub` (or else email) is `who`, or raise
    NotFound (also when an email names several users: then the sub must be given)."""
    user = db.session.scalar(db.select(User).filter_by(platform_id=platform_id, sub=who))
    if user is None and who.strip():
        matches = list(db.session.scalars(db.select(User).where(
            User.platform_id == platform_id, db.func.lower(User.email) == who.lower())))
        if len(matches) > 1:
            raise NotFound(f"{len(matches)} users of platform {platform_id} have the email "
                           f"{who}; name one by its LTI sub.", code="user_ambiguous")
        user = matches[0] if matches else None
    if user is None:
        raise NotFound(f"Platform {platform_id} has no user with sub or email {who!r}: the "
                       "tool holds nothing about this user there (a user exists once they "
                       "have opened the tool from the LMS).", code="user_not_found")
    return user
