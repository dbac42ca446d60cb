"""What a video (or sound) file is: container signature, ffprobe duration and size, ffmpeg
thumbnail; and the sound files an assignment that accepts sound-only submissions takes
(SOUND_FORMATS: their extensions, media types and signatures, named once).

ffmpeg is optional at runtime: without it the signature check alone decides, and no
thumbnail is made. ffprobe reads only the headers, so checking a 5 GB file is quick.
"""
from __future__ import annotations

import json
import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 60
THUMBNAIL_TIMEOUT_SECONDS = 60
THUMBNAIL_WIDTH = 640
HEADER_BYTES = 512  # MPEG-TS needs three 188-byte packets

# Error codes a failed check gives, with the words a student reads.
NOT_A_VIDEO = "not_a_video"
CORRUPTED = "corrupted"
TOO_LONG = "too_long"
EMPTY = "empty_file"
SOUND_ONLY = "sound_only"  # sound and no picture, where the assignment asks for a video
NOT_A_SOUND_FILE = "not_a_sound_file"  # named as a sound file, but its bytes are not one

MESSAGES = {
    NOT_A_VIDEO: "This file is not a video we recognise. Please upload a video file "
                 "such as MP4, MOV or WebM.",
    CORRUPTED: "This video file seems damaged or incomplete, so it cannot be played. "
               "Please export or save it again and upload the new file.",
    EMPTY: "The file is empty. Please choose the video file itself.",
    SOUND_ONLY: "This file has sound but no picture, and this assignment asks for a video. "
                "Please upload the video itself (for example the MP4 from your phone or "
                "camera).",
    NOT_A_SOUND_FILE: "This file is named as a sound file, but its contents are not the "
                      "sound format its name says. Please upload the recording as your "
                      "app saved it, without renaming it.",
}


@dataclass(frozen=True)
class Container:
    """A video (or sound) container format we recognise by its first bytes."""

    name: str
    mime_type: str


MP4 = Container("mp4", "video/mp4")
MOV = Container("mov", "video/quicktime")
WEBM = Container("webm", "video/webm")
MKV = Container("mkv", "video/x-matroska")
AVI = Container("avi", "video/x-msvideo")
ASF = Container("wmv", "video/x-ms-wmv")
MPEG_PS = Container("mpeg", "video/mpeg")
MPEG_TS = Container("ts", "video/mp2t")
OGG = Container("ogv", "video/ogg")
FLV = Container("flv", "video/x-flv")
# Sound files (SOUND_FORMATS): what an assignment that accepts sound-only submissions takes.
M4A = Container("m4a", "audio/mp4")  # an MP4 whose brand says sound ("M4A ")
MP3 = Container("mp3", "audio/mpeg")  # MPEG audio frames, maybe behind an ID3 tag
WAV = Container("wav", "audio/wav")
OGG_SOUND = Container("oga", "audio/ogg")  # Ogg holding Opus, Vorbis, FLAC or Speex
FLAC = Container("flac", "audio/flac")
ADTS = Container("aac", "audio/aac")  # AAC frames with ADTS headers, no container


@dataclass(frozen=True)
class SoundFormat:
    """A sound file a student may hand in where sound-only submissions are accepted."""

    extension: str  # lower case, no dot
    containers: tuple[Container, ...]  # what its first bytes may say it is
    mime_types: tuple[str, ...]  # what browsers and systems call it (the first: ours)


# The sound files accepted, in the order the page lists them. Many apps write an .m4a with
# the generic MP4 brand, so an MP4 signature is an .m4a too.
SOUND_FORMATS = {f.extension: f for f in (
    SoundFormat("m4a", (M4A, MP4), ("audio/mp4", "audio/x-m4a", "audio/m4a")),
    SoundFormat("mp3", (MP3,), ("audio/mpeg", "audio/mp3")),
    SoundFormat("wav", (WAV,), ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave")),
    SoundFormat("ogg", (OGG_SOUND,), ("audio/ogg", "application/ogg")),
    SoundFormat("oga", (OGG_SOUND,), ("audio/ogg",)),
    SoundFormat("opus", (OGG_SOUND,), ("audio/ogg", "audio/opus")),
    SoundFormat("aac", (ADTS,), ("audio/aac", "audio/x-aac", "audio/vnd.dlna.adts")),
    SoundFormat("flac", (FLAC,), ("audio/flac", "audio/x-flac")),
)}

_QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_M4A_BRANDS = (b"M4A ", b"M4B ")  # sound; an audiobook
# The first Ogg page's codec header says whether it holds sound (else Theora: a video).
_OGG_SOUND_CODECS = (b"OpusHead", b"\x01vorbis", b"\x7fFLAC", b"Speex   ")


def sniff_container(header: bytes) -> Container | None:
    """Name the container from a file's first bytes, or None when it is neither a video
    nor a sound file we know."""
    if len(header) >= 12 and header[4:8] == b"ftyp":
        if header[8:12] in _M4A_BRANDS:
            return M4A
        return MOV if header[8:12] == b"qt  " else MP4
    if len(header) >= 8 and header[4:8] in _QUICKTIME_ATOMS:
        return MOV
    if header.startswith(b"\x1a\x45\xdf\xa3"):
        return WEBM if b"webm" in header else MKV
    if header[:4] == b"RIFF" and header[8:12] == b"AVI ":
        return AVI
    if header.startswith(_ASF_GUID):
        return ASF
    if header[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return MPEG_PS
    if len(header) > 376 and header[0] == header[188] == header[376] == 0x47:
        return MPEG_TS
    if header.startswith(b"OggS"):
        return OGG_SOUND if any(c in header[:128] for c in _OGG_SOUND_CODECS) else OGG
    if header.startswith(b"FLV\x01"):
        return FLV
    return _sniff_sound(header)


def _sniff_sound(header: bytes) -> Container | None:
    """Name a sound file that has no video container's signature, from its first bytes."""
    if header[:4] == b"RIFF" and header[8:12] == b"WAVE":
        return WAV
    if header.startswith(b"fLaC"):
        return FLAC
    if header.startswith(b"ID3"):  # an ID3v2 tag, then the MPEG audio frames
        return MP3
    if len(header) < 4 or header[0] != 0xFF:
        return None
    if header[1] & 0xF6 == 0xF0:  # 12-bit sync, layer 00: an ADTS frame
        return ADTS
    # An MPEG audio frame: 11-bit sync, a layer, a bitrate and a sample rate that exist.
    layer, bitrate, rate = (header[1] >> 1) & 3, header[2] >> 4, (header[2] >> 2) & 3
    if header[1] & 0xE0 == 0xE0 and layer and bitrate != 15 and rate != 3:
        return MP3
    return None


def sound_format(filename: str) -> SoundFormat | None:
    """Return the sound format a file's name says it is, or None (a video's name, or none)."""
    name = filename.lower()
    return SOUND_FORMATS.get(name.rsplit(".", 1)[1]) if "." in name else None


def check_sound_name(filename: str, container: Container | None) -> str | None:
    """Return NOT_A_SOUND_FILE when the name says a sound format its first bytes are not
    (a renamed document, a picture); None when they agree or the name says no sound."""
    named = sound_format(filename)
    if named is None or container in named.containers:
        return None
    return NOT_A_SOUND_FILE


def read_header(path: Path) -> bytes:
    """Return the first bytes of a file (enough for every signature above)."""
    with open(path, "rb") as f:
        return f.read(HEADER_BYTES)


def ffprobe_path() -> str | None:
    return shutil.which("ffprobe")


def ffmpeg_path() -> str | None:
    return shutil.which("ffmpeg")


@dataclass(frozen=True)
class Probe:
    """What ffprobe read from the headers."""

    duration_seconds: float | None
    width: int | None
    height: int | None
    has_video: bool
    stream_count: int = 0  # audio and video streams


class ProbeFailed(Exception):
    """ffprobe could not read the file as media."""


def probe(path: Path) -> Probe | None:
    """Read duration and picture size with ffprobe; None when ffprobe is not installed."""
    exe = ffprobe_path()
    if exe is None:
        return None
    cmd = [exe, "-v", "error", "-show_entries",
           "format=duration:stream=codec_type,width,height,duration", "-of", "json", str(path)]
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=PROBE_TIMEOUT_SECONDS,
                             check=False)
    except subprocess.TimeoutExpired:
        raise ProbeFailed("ffprobe timed out") from None
    if out.returncode != 0:
        raise ProbeFailed(out.stderr.decode("utf-8", "replace")[:300])
    try:
        data = json.loads(out.stdout or b"{}")
    except ValueError:
        raise ProbeFailed("ffprobe printed no JSON") from None
    videos = [s for s in data.get("streams", []) if s.get("codec_type") == "video"]
    width = height = None
    if videos:
        width, height = videos[0].get("width"), videos[0].get("height")
    duration = _float(data.get("format", {}).get("duration"))
    if duration is None and videos:
        duration = _float(videos[0].get("duration"))
    return Probe(duration_seconds=duration, width=width, height=height, has_video=bool(videos),
                 stream_count=sum(1 for s in data.get("streams", [])
                                  if s.get("codec_type") in ("video", "audio")))


def _float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Check:
    """The verdict on one file: a playable video, or why not."""

    ok: bool
    container: Container | None = None
    duration_seconds: float | None = None
    width: int | None = None
    height: int | None = None
    probed: bool = False  # ffprobe confirmed it (False: signature only)
    error_code: str | None = None
    error_message: str | None = None


def _failed(code: str, container: Container | None = None) -> Check:
    return Check(ok=False, container=container, error_code=code, error_message=MESSAGES[code])


def check_video(path: Path) -> Check:
    """Decide whether a file is a real video: its signature, then ffprobe when installed."""
    header = read_header(path)
    if not header:
        return _failed(EMPTY)
    container = sniff_container(header)
    if container is None:
        return _failed(NOT_A_VIDEO)
    try:
        found = probe(path)
    except ProbeFailed as exc:
        log.info("ffprobe refused %s: %s", path.name, exc)
        return _failed(CORRUPTED, container)
    if found is None:
        return Check(ok=True, container=container)
    if not found.stream_count:  # a video's signature, but nothing readable behind it
        return _failed(CORRUPTED, container)
    if not found.has_video:  # sound only
        return _failed(NOT_A_VIDEO, container)
    if not found.width or not found.height:
        return _failed(CORRUPTED, container)
    return Check(ok=True, container=container, duration_seconds=found.duration_seconds,
                 width=found.width, height=found.height, probed=True)


def make_thumbnail(src: Path, dest: Path, duration_seconds: float | None = None) -> bool:
    """Write a JPEG still of the video to `dest`; False when ffmpeg is missing or fails."""
    exe = ffmpeg_path()
    if exe is None:
        return False
    at = min(1.0, (duration_seconds or 0) / 2)
    tmp = dest.with_suffix(".tmp.jpg")
    cmd = [exe, "-nostdin", "-v", "error", "-y", "-ss", f"{at:.2f}", "-i", str(src),
           "-frames:v", "1", "-vf", f"scale='min({THUMBNAIL_WIDTH},iw)':-2", "-q:v", "4",
           str(tmp)]
    return write_image(cmd, tmp, dest, "thumbnail", src.name, THUMBNAIL_TIMEOUT_SECONDS)


def write_image(cmd: list[str], tmp: Path, dest: Path, what: str, source_name: str,
                timeout: float) -> bool:
    """Run ffmpeg writing an image to `tmp`, then move it to `dest`; False (logged) on failure."""
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        log.warning("ffmpeg %s timed out for %s", what, source_name)
        tmp.unlink(missing_ok=True)
        return False
    if out.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
        log.info("ffmpeg made no %s for %s: %s", what, source_name,
                 out.stderr.decode("utf-8", "replace")[:300])
        tmp.unlink(missing_ok=True)
        return False
    tmp.replace(dest)
    return True


def format_duration(seconds: float) -> str:
    """Write a duration the way people say it: '12 min 5 s', '45 s', '1 h 2 min'."""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def too_long_message(duration: float, limit: int) -> str:
    """Tell a student their video is longer than the assignment allows."""
    return (f"Your video is {format_duration(duration)} long; this assignment accepts "
            f"videos up to {format_duration(limit)}. Please shorten it and upload again.")
