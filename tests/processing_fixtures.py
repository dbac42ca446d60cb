"""Sample files for the processing tests, made with ffmpeg once per session: one per case a
student may bring (phone, camera, old editing software), plus broken and lying files."""
from __future__ import annotations

import json
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from lti_tool.processing import messages
from lti_tool.processing.media import Plan
from lti_tool.statuses import VideoStatus

HAS_FFMPEG = shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def encoders() -> str:
    if not HAS_FFMPEG:
        return ""
    return subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True,
                          text=True, timeout=30).stdout


@dataclass(frozen=True)
class Sample:
    """How to make one sample, and what processing should make of it."""

    name: str  # file name the student uploads
    args: tuple[str, ...]  # ffmpeg output options (after the test sources)
    audio: bool = True
    needs_encoder: str | None = None
    seconds: float = 1.0
    size: str = "320x240"
    rotate: bool = False  # flag the (MOV) video track as turned 90 degrees, as phones do
    picture: bool = True  # False: sound alone (a sound file)


SAMPLES = {
    "mp4_h264": Sample("phone.mp4", ("-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
                                     "-movflags", "+faststart")),
    # An iPhone's HEVC .mov, filmed upright: stored 320x240 with a 90 degree rotation flag.
    "mov_hevc_rotated": Sample("iphone.mov", ("-c:v", "libx265", "-x265-params", "log-level=0",
                                              "-pix_fmt", "yuv420p", "-tag:v", "hvc1",
                                              "-c:a", "aac"),
                               needs_encoder="libx265", rotate=True),
    "mkv_vp9": Sample("screen.mkv", ("-c:v", "libvpx-vp9", "-deadline", "realtime",
                                     "-cpu-used", "8", "-c:a", "libopus"),
                      needs_encoder="libvpx-vp9"),
    "avi_mpeg4": Sample("camera.avi", ("-c:v", "mpeg4", "-c:a", "pcm_s16le")),
    "wmv": Sample("lecture.wmv", ("-c:v", "wmv2", "-c:a", "wmav2")),
    "mpeg2": Sample("dvd.mpg", ("-c:v", "mpeg2video", "-c:a", "mp2", "-f", "mpeg")),
    "video_only_mkv_h264": Sample("silent.mkv", ("-c:v", "libx264", "-pix_fmt", "yuv420p"),
                                  audio=False),
    "webm_named_mp4": Sample("lying.mp4", ("-c:v", "libvpx-vp9", "-deadline", "realtime",
                                           "-cpu-used", "8", "-c:a", "libopus", "-f", "webm"),
                             needs_encoder="libvpx-vp9"),
    "m4v_h264": Sample("export.m4v", ("-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
                                      "-f", "mp4")),
    "webm_vp9": Sample("talk.webm", ("-c:v", "libvpx-vp9", "-deadline", "realtime",
                                     "-cpu-used", "8", "-c:a", "libopus"),
                       needs_encoder="libvpx-vp9"),
    "webm_av1": Sample("clip-av1.webm", ("-c:v", "libsvtav1", "-preset", "12",
                                         "-svtav1-params", "verbosity=0", "-c:a", "libopus"),
                       needs_encoder="libsvtav1"),
    "mpeg_ps": Sample("tape.mpeg", ("-c:v", "mpeg2video", "-c:a", "mp2", "-f", "mpeg")),
    "avi_long": Sample("long.avi", ("-c:v", "mpeg4", "-c:a", "pcm_s16le"), seconds=6),
}

# Sound files as recording apps save them, for assignments that accept sound-only submissions
# (lti_tool.uploads.video_checks.SOUND_FORMATS): sample -> the plan processing makes.
SOUND_SAMPLES = {
    "sound_m4a": Sample("memo.m4a", ("-c:a", "aac"), picture=False, seconds=2),
    "sound_mp3": Sample("talk.mp3", ("-c:a", "libmp3lame"), picture=False, seconds=2,
                        needs_encoder="libmp3lame"),
    # No ID3 tag: known by its first MPEG audio frame alone.
    "sound_mp3_bare": Sample("bare.mp3", ("-c:a", "libmp3lame", "-id3v2_version", "0"),
                             picture=False, seconds=2, needs_encoder="libmp3lame"),
    "sound_wav": Sample("voice.wav", ("-c:a", "pcm_s16le"), picture=False, seconds=2),
    "sound_ogg": Sample("voice.ogg", ("-c:a", "libvorbis"), picture=False, seconds=2,
                        needs_encoder="libvorbis"),
    "sound_opus": Sample("voice.opus", ("-c:a", "libopus"), picture=False, seconds=2,
                         needs_encoder="libopus"),
    "sound_oga": Sample("voice.oga", ("-c:a", "flac", "-f", "ogg"), picture=False, seconds=2),
    "sound_aac": Sample("voice.aac", ("-c:a", "aac", "-f", "adts"), picture=False, seconds=2),
    "sound_flac": Sample("voice.flac", ("-c:a", "flac"), picture=False, seconds=2),
}


KEEP, REMUX, TRANSCODE = Plan.KEEP, Plan.REMUX, Plan.TRANSCODE

# sample -> (status, error code, plan, picture as shown (w, h), has audio)
EXPECTED = {
    "mp4_h264": (VideoStatus.READY, None, KEEP, (320, 240), True),
    "mov_hevc_rotated": (VideoStatus.READY, None, TRANSCODE, (240, 320), True),
    "mkv_vp9": (VideoStatus.READY, None, TRANSCODE, (320, 240), True),
    "avi_mpeg4": (VideoStatus.READY, None, TRANSCODE, (320, 240), True),
    "wmv": (VideoStatus.READY, None, TRANSCODE, (320, 240), True),
    "mpeg2": (VideoStatus.READY, None, TRANSCODE, (320, 240), True),
    "video_only_mkv_h264": (VideoStatus.READY, None, REMUX, (320, 240), False),
    "webm_named_mp4": (VideoStatus.READY, None, KEEP, (320, 240), True),
    "m4v_h264": (VideoStatus.READY, None, KEEP, (320, 240), True),
    "webm_vp9": (VideoStatus.READY, None, KEEP, (320, 240), True),
    "webm_av1": (VideoStatus.READY, None, KEEP, (320, 240), True),
    "mpeg_ps": (VideoStatus.READY, None, TRANSCODE, (320, 240), True),
    "audio_only": (VideoStatus.ERROR, messages.SOUND_ONLY, None, None, None),
    "truncated": (VideoStatus.ERROR, messages.CORRUPTED, None, None, None),
    "text_named_mp4": (VideoStatus.ERROR, messages.NOT_A_VIDEO, None, None, None),
}


def render(sample: Sample, folder: Path) -> Path:
    """Run ffmpeg's test sources through the sample's options; skip when it cannot."""
    if not HAS_FFMPEG:
        pytest.skip("ffmpeg/ffprobe not installed")
    if sample.needs_encoder and f" {sample.needs_encoder} " not in encoders():
        pytest.skip(f"this ffmpeg has no {sample.needs_encoder} encoder")
    path = folder / sample.name
    inputs, maps = [], []
    if sample.picture:
        inputs += ["-f", "lavfi", "-i",
                   f"testsrc=duration={sample.seconds}:size={sample.size}:rate=25"]
        maps += ["-map", "0:v"]
    if sample.audio:
        inputs += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={sample.seconds}"]
        maps += ["-map", f"{len(maps) // 2}:a"]
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *inputs, *maps, *sample.args,
                    str(path)], check=True, timeout=120)
    if sample.rotate:
        flag_rotated(path)
    return path


IDENTITY_MATRIX = struct.pack(">9i", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
ROTATED_90_MATRIX = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)


def flag_rotated(path: Path) -> None:
    """Write a 90 degree display matrix into the first track header (tkhd), the way a
    phone held upright records; this ffmpeg (5.x) has no option for it."""
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    version = data[at + 4]
    # version, flags, times, track id, reserved, duration; then reserved, layer, group,
    # volume, reserved: the matrix follows.
    matrix = at + 4 + (24 if version == 0 else 36) + 16
    assert bytes(data[matrix:matrix + 36]) == IDENTITY_MATRIX
    data[matrix:matrix + 36] = ROTATED_90_MATRIX
    path.write_bytes(bytes(data))


@pytest.fixture(scope="session")
def samples_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("processing-samples")


@pytest.fixture(scope="session")
def sample_file(samples_dir):
    """Return a function: sample key -> path of the rendered file (made once)."""
    made: dict[str, Path] = {}

    def get(key: str) -> Path:
        if key not in made:
            made[key] = _special(key, samples_dir) or render(
                SAMPLES.get(key) or SOUND_SAMPLES[key], samples_dir)
        return made[key]

    return get


def _special(key: str, folder: Path) -> Path | None:
    """The files ffmpeg's options alone do not make: sound only, truncated, not a video."""
    if key == "audio_only":
        path = folder / "voice.mp4"
        if not HAS_FFMPEG:
            pytest.skip("ffmpeg/ffprobe not installed")
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                        "sine=frequency=440:duration=1", "-c:a", "aac", str(path)],
                       check=True, timeout=60)
        return path
    if key == "truncated":
        # A phone MP4 whose index (moov) comes last, cut off before it: a transfer that
        # stopped early.
        whole = render(Sample("whole.mp4", ("-c:v", "libx264", "-pix_fmt", "yuv420p",
                                            "-c:a", "aac"), seconds=2), folder)
        path = folder / "cut.mp4"
        path.write_bytes(whole.read_bytes()[: whole.stat().st_size * 6 // 10])
        return path
    if key == "text_named_mp4":
        path = folder / "essay.mp4"
        path.write_bytes(b"%PDF-1.7\n" + b"This is an essay, not a video.\n" * 200)
        return path
    return None


def video_row(app, video_id):
    """Return the Video row as it is in the database now, detached (outside any session)."""
    from lti_tool.extensions import db
    from lti_tool.models import Video
    with app.app_context():
        video = db.session.get(Video, video_id)
        db.session.expunge(video)
        return video


def ffprobe_streams(path: Path) -> dict:
    """Return {codec_type: stream} of a file (first stream of each type), and its format."""
    out = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of",
                          "json", str(path)], capture_output=True, check=True, timeout=60)
    data = json.loads(out.stdout)
    streams: dict = {}
    for stream in data["streams"]:
        streams.setdefault(stream["codec_type"], stream)
    streams["format"] = data["format"]
    return streams
