"""The one contract every storage backend passes (see tusd's shared store tests).

Use it by subclassing `StorageContract` in a test module (its name must start with Test)
and providing:

- a `backend` fixture yielding the backend, built from the app's config, inside an app
  request context (URLs are built with url_for);
- `push_bytes(self, backend, ticket, data) -> dict`: send `data` the way the browser
  would for this ticket (tus PATCH, presigned parts, a faked provider), finish the upload
  on the provider's side, and return the backend_data to pass to inspect/delete after it;
- optionally `settle(self, backend, storage_uid, backend_data) -> VideoInfo`, for
  providers that report processing first (the default inspects once).

The `video_bytes` fixture is a small real MP4 (ffmpeg test source); override it if the
provider fake needs something else.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from lti_tool.statuses import VideoStatus
from lti_tool.storage import BACKENDS, backend_class
from lti_tool.storage.base import (INTERFACES, Capability, Health, Playback, PlaybackKind,
                                   StorageBackend, StoredObject, UploadMethod, UploadNotFound,
                                   UploadRequest, UploadTicket, UploadTooLarge, VideoInfo)
from tests.uploading import sample_mp4  # noqa: F401  (fixture)

CAPABILITY_OF_METHOD = {UploadMethod.TUS: Capability.TUS,
                        UploadMethod.MULTIPART: Capability.MULTIPART}


class StorageContract:
    """Behaviour the tool relies on from every backend."""

    # --- hooks for subclasses ---
    def push_bytes(self, backend: StorageBackend, ticket: UploadTicket, data: bytes) -> dict:
        raise NotImplementedError

    def settle(self, backend: StorageBackend, storage_uid: str, backend_data: dict) -> VideoInfo:
        return backend.inspect(storage_uid, backend_data)

    @pytest.fixture
    def video_bytes(self, sample_mp4) -> bytes:
        return sample_mp4.read_bytes()

    # --- helpers ---
    @staticmethod
    def request_for(size: int, video_id: int = 1, filename: str = "clip.mp4") -> UploadRequest:
        return UploadRequest(video_id=video_id, owner_id=7, filename=filename,
                             size_bytes=size, content_type="video/mp4",
                             key_hint=f"p1/c1/a1/s1/v{video_id}")

    def uploaded(self, backend, data: bytes, video_id: int = 1) -> tuple[str, dict]:
        """Upload `data` completely; return (storage_uid, backend_data)."""
        ticket = backend.create_upload(self.request_for(len(data), video_id))
        backend_data = dict(ticket.backend_data)
        backend_data.update(self.push_bytes(backend, ticket, data) or {})
        return ticket.storage_uid, backend_data

    # --- the contract ---
    def test_backend_is_registered_under_its_name(self, backend):
        assert backend.name in BACKENDS
        assert isinstance(backend, backend_class(backend.name))

    def test_capabilities_are_a_frozenset_of_capability(self, backend):
        assert isinstance(backend.capabilities, frozenset)
        assert all(isinstance(c, Capability) for c in backend.capabilities)
        assert backend.capabilities & {Capability.TUS, Capability.MULTIPART}

    def test_create_upload_returns_a_ticket_the_backend_can_take(self, backend):
        ticket = backend.create_upload(self.request_for(1000))
        assert isinstance(ticket, UploadTicket)
        assert backend.supports(CAPABILITY_OF_METHOD[UploadMethod(ticket.method)])
        assert ticket.storage_uid
        if ticket.method == UploadMethod.TUS:
            assert ticket.endpoint and ticket.endpoint.startswith(("http://", "https://"))
        if ticket.expires_at is not None:
            assert ticket.expires_at.tzinfo is not None
            assert ticket.expires_at > datetime.now(timezone.utc)

    def test_each_upload_gets_its_own_storage_uid(self, backend):
        a = backend.create_upload(self.request_for(1000, video_id=1))
        b = backend.create_upload(self.request_for(1000, video_id=2))
        assert a.storage_uid != b.storage_uid

    def test_an_upload_over_the_site_limit_is_refused(self, backend):
        too_big = int(backend.config["MAX_UPLOAD_BYTES"]) + 1
        with pytest.raises(UploadTooLarge):
            backend.create_upload(self.request_for(too_big))

    def test_a_fresh_upload_is_pending_or_uploading(self, backend):
        ticket = backend.create_upload(self.request_for(1000))
        info = backend.inspect(ticket.storage_uid, ticket.backend_data)
        assert isinstance(info, VideoInfo)
        assert info.status in (VideoStatus.PENDING, VideoStatus.UPLOADING)

    def test_an_unknown_uid_is_not_found(self, backend):
        with pytest.raises(UploadNotFound):
            backend.inspect("no-such-video-0123456789abcdef", {})

    def test_an_uploaded_video_becomes_ready_with_its_size(self, backend, video_bytes):
        uid, data = self.uploaded(backend, video_bytes)
        info = self.settle(backend, uid, data)
        assert info.status == VideoStatus.READY, info
        assert info.size_bytes in (None, len(video_bytes))

    def test_playback_is_a_short_lived_url(self, backend, video_bytes):
        uid, data = self.uploaded(backend, video_bytes)
        self.settle(backend, uid, data)
        before = datetime.now(timezone.utc)
        playback = backend.playback(uid, viewer_id=3, video_id=1, ttl_seconds=300)
        assert isinstance(playback, Playback)
        assert isinstance(playback.kind, PlaybackKind) or playback.kind in set(PlaybackKind)
        assert playback.url.startswith(("http://", "https://"))
        assert playback.expires_at.tzinfo is not None
        assert before < playback.expires_at <= before + timedelta(seconds=301)

    def test_thumbnail_url_is_none_or_a_url(self, backend, video_bytes):
        uid, data = self.uploaded(backend, video_bytes)
        self.settle(backend, uid, data)
        url = backend.thumbnail_url(uid, viewer_id=3, video_id=1, ttl_seconds=300)
        assert url is None or url.startswith(("http://", "https://"))

    def test_delete_removes_the_video_and_twice_is_fine(self, backend, video_bytes):
        uid, data = self.uploaded(backend, video_bytes)
        backend.delete(uid, data)
        backend.delete(uid, data)
        with pytest.raises(UploadNotFound):
            info = backend.inspect(uid, data)
            if info.status == VideoStatus.DELETED:  # some providers keep a tombstone
                raise UploadNotFound("deleted")

    def test_list_objects_shows_what_the_backend_holds(self, backend, video_bytes):
        uid, data = self.uploaded(backend, video_bytes)
        listed = list(backend.list_objects())
        assert all(isinstance(o, StoredObject) for o in listed)
        assert uid in {o.storage_uid for o in listed}
        backend.delete(uid, data)
        assert uid not in {o.storage_uid for o in backend.list_objects()}

    def test_health_reports_ok(self, backend):
        health = backend.health()
        assert isinstance(health, Health)
        assert health.ok, health.detail

    def test_declared_capabilities_match_the_interfaces_implemented(self, backend):
        """A backend declares a capability exactly when it implements its interface, so
        callers that check supports() can call it, and no unsupported method is there."""
        for capability, interfaces in INTERFACES.items():
            for interface in interfaces:
                assert backend.supports(capability) == isinstance(backend, interface), \
                    (capability, interface.__name__)
                for method in interface.__abstractmethods__:
                    assert hasattr(backend, method) == backend.supports(capability), method
