"""A tiny fake AGS/NRPS platform on `responses`, for unit tests of the service clients.

It answers the token endpoint and records what the tool sent; tests register the service
answers they need. End-to-end tests use the demo LMS over real HTTP instead.
"""
from __future__ import annotations

import json
from urllib.parse import parse_qs

import jwt
import pytest
import responses

from lti_tool.extensions import db
from lti_tool.lti import ags_values as av
from lti_tool.lti.keys import public_jwks
from tests.factories import room  # noqa: F401  (fixture)

ALL_AGS = [av.SCOPE_LINEITEM, av.SCOPE_LINEITEM_READONLY, av.SCOPE_RESULT_READONLY,
           av.SCOPE_SCORE]


class FakePlatform:
    """Token endpoint plus recorded requests for one Classroom's platform."""

    def __init__(self, rsps: responses.RequestsMock, room: Classroom):
        self.rsps = rsps
        self.room = room
        self.base = room.platform.issuer
        self.token_url = room.platform.auth_token_url
        self.lineitems_url = f"{self.base}/mod/lti/services.php/2/lineitems?type_id=1"
        self.lineitem_url = f"{self.base}/mod/lti/services.php/2/lineitems/7/lineitem?type_id=1"
        self.scores_url = f"{self.base}/mod/lti/services.php/2/lineitems/7/lineitem/scores?type_id=1"
        self.tokens_issued = 0
        self.token_lifetime = 3600
        rsps.add_callback(responses.POST, self.token_url, callback=self._token)

    def _token(self, request):
        form = {k: v[0] for k, v in parse_qs(request.body).items()}
        self.last_token_form = form
        self.tokens_issued += 1
        return 200, {}, json.dumps({"access_token": f"tok{self.tokens_issued}",
                                    "token_type": "Bearer", "expires_in": self.token_lifetime,
                                    "scope": form.get("scope", "")})

    def link(self, *, lineitem: bool = True, scopes=None):
        """Give the room's assignment the AGS claim values a launch would store."""
        assignment = self.room.assignment
        assignment.lineitem_url = self.lineitem_url if lineitem else None
        assignment.lineitems_url = self.lineitems_url
        assignment.ags_scopes = list(scopes if scopes is not None else ALL_AGS)
        db.session.commit()
        return assignment

    def accept_scores(self, status: int = 200, body: str = "", headers=None):
        self.rsps.add(responses.POST, self.scores_url, status=status, body=body,
                      headers=headers or {})

    def score_calls(self):
        return [c for c in self.rsps.calls if c.request.url == self.scores_url]

    def sent_scores(self):
        return [json.loads(c.request.body) for c in self.score_calls()
                if c.response is not None and c.response.status_code == 200]

    def token_calls(self):
        return [c for c in self.rsps.calls if c.request.url == self.token_url]

    def verify_assertion(self, app):
        """Decode the last client assertion with the tool's public key; return its claims."""
        assertion = self.last_token_form["client_assertion"]
        with app.app_context():
            keys = public_jwks()["keys"]
        header = jwt.get_unverified_header(assertion)
        key = next(k for k in keys if k["kid"] == header["kid"])
        public = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(key))
        return jwt.decode(assertion, public, algorithms=["RS256"],
                          audience=self.room.platform.auth_audience or self.token_url)


@pytest.fixture
def fake(room):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakePlatform(rsps, room)
