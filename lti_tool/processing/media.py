"""What a video file holds and how to make it playable: ffprobe, the browser-safe rule,
limits read from the headers, and the ffmpeg rendition with progress.

No database and no Flask here: the pipeline passes settings in and records what comes out.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Callable

from lti_tool.processing import messages
from lti_tool.uploads import video_checks
from lti_tool.uploads.video_checks import M4A, MP3, MP4, MKV, MOV, WEBM, Container

log = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 60
# ffprobe reads at most this much to find the streams: a header, not the picture data.
PROBE_SIZE_BYTES = 20 * 1024 * 1024
# Limits read from the headers, before anything is decoded (a "bomb" claims more).
MAX_DIMENSION = 8192
MAX_PIXELS = 8192 * 4320  # 8K
MAX_FRAME_RATE = 480
MAX_FRAMES = 12 * 3600 * 120  # twelve hours at 120 fps
MAX_DURATION_SECONDS = 12 * 3600
# The rendition: H.264 + AAC in MP4, at most 1080p, constant frame rate.
RENDITION_LONG_SIDE = 1920
RENDITION_SHORT_SIDE = 1080
RENDITION_MAX_FPS = 60
RENDITION_DEFAULT_FPS = 30
RENDITION_CRF = 23
RENDITION_AUDIO_BITRATE = "128k"
PROGRESS_EVERY_SECONDS = 2.0
# The hover strip on the instructor's list: frames side by side, each cell twice the list's
# 96x54 thumbnail (sharp on high-density screens).
STRIP_FRAMES = 5
STRIP_CELL = (192, 108)
STRIP_MIN_SECONDS = 0.5  # a shorter video has nothing a strip would add
STRIP_TIMEOUT_SECONDS = 120

H264 = "h264"
AAC = "aac"
# What every current browser plays as it is (Chrome, Firefox, Safari, Edge).
BROWSER_SAFE = {
    MP4: ({H264}, {AAC, "mp3", None}),
    WEBM: ({"vp8", "vp9", "av1"}, {"opus", "vorbis", None}),
}
BROWSER_SAFE_PIXEL_FORMATS = {"yuv420p", "yuvj420p", None}
# Sound alone that every current browser plays as it is (container name -> sound codecs): an
# .m4a or an .mp3 is served as it came; WAV, Ogg, FLAC and bare AAC (ADTS) get an AAC
# rendition, as a browser's recording of the microphone does.
BROWSER_SAFE_SOUND = {MP4.name: {AAC, "mp3"}, M4A.name: {AAC, "mp3"}, MP3.name: {"mp3"},
                      WEBM.name: {"opus", "vorbis"}}
# Containers whose H.264/AAC streams are copied into an MP4 without re-encoding.
REMUXABLE = {MOV, MKV, WEBM}


class Plan(StrEnum):
    """What a file needs before every browser plays it."""

    KEEP = "keep"  # plays as it is: the original is served
    REMUX = "remux"  # browser-safe streams in another container: copied into an MP4
    TRANSCODE = "transcode"  # re-encoded to H.264 + AAC


@dataclass(frozen=True)
class MediaProbe:
    """What ffprobe read from a file's headers."""

    container: str
    format_name: str
    duration_seconds: float | None
    width: int | None  # as stored (before rotation)
    height: int | None
    rotation: int  # degrees clockwise to show it upright: 0, 90, 180, 270
    video_codec: str | None
    pixel_format: str | None
    frame_rate: float | None
    frame_count: int | None
    audio_codec: str | None
    has_audio: bool
    # False when the container does not say how long it is (a browser's MediaRecorder
    # WebM, written as it records) and the duration was measured from the packets.
    duration_in_header: bool = True

    @property
    def sound_only(self) -> bool:
        """Tell whether the file has sound and no picture."""
        return not self.video_codec and self.has_audio

    @property
    def display_size(self) -> tuple[int | None, int | None]:
        """Return the picture size as shown, rotation applied."""
        if self.rotation in (90, 270):
            return self.height, self.width
        return self.width, self.height

    def as_dict(self) -> dict:
        return {"container": self.container, "format_name": self.format_name,
                "duration_seconds": self.duration_seconds, "width": self.width,
                "height": self.height, "rotation": self.rotation,
                "video_codec": self.video_codec, "pixel_format": self.pixel_format,
                "frame_rate": self.frame_rate, "frame_count": self.frame_count,
                "audio_codec": self.audio_codec, "has_audio": self.has_audio,
                "duration_in_header": self.duration_in_header}


class Refused(Exception):
    """The file cannot become a playable video; `code` names why (processing.messages)."""

    def __init__(self, code: str, detail: str = "", message: str | None = None):
        super().__init__(detail or code)
        self.code = code
        self.message = message or messages.MESSAGES[code]


def sniff(header: bytes, filename: str = "") -> Container:
    """Name the container from the first bytes; refuse at once what is not a video, or a
    file named as a sound file whose bytes are not that sound format."""
    if not header:
        raise Refused(messages.EMPTY)
    container = video_checks.sniff_container(header)
    mismatch = video_checks.check_sound_name(filename, container)
    if mismatch:
        raise Refused(mismatch, f"{filename}: {container.name if container else 'unknown'} "
                                "signature")
    if container is None:
        raise Refused(messages.NOT_A_VIDEO, "unknown signature")
    return container


def probe(path: Path, container: Container) -> MediaProbe:
    """Read container, codecs, duration, size, rotation and audio with ffprobe."""
    exe = video_checks.ffprobe_path()
    if exe is None:
        raise RuntimeError("ffprobe is not installed; the worker needs ffmpeg")
    cmd = [exe, "-v", "error", "-probesize", str(PROBE_SIZE_BYTES), "-show_format",
           "-show_streams", "-of", "json", str(path)]
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=PROBE_TIMEOUT_SECONDS,
                             check=False)
    except subprocess.TimeoutExpired:
        raise Refused(messages.CORRUPTED, "ffprobe timed out") from None
    if out.returncode != 0:
        raise Refused(messages.CORRUPTED, out.stderr.decode("utf-8", "replace")[:300])
    try:
        data = json.loads(out.stdout or b"{}")
    except ValueError:
        raise Refused(messages.CORRUPTED, "ffprobe printed no JSON") from None
    found = parse_probe(data, container)
    if found.duration_seconds is None and (found.video_codec or found.has_audio):
        measured = measure_duration(exe, path, "v:0" if found.video_codec else "a:0")
        if measured:
            found = replace(found, duration_seconds=measured, duration_in_header=False)
    return found


def measure_duration(exe: str, path: Path, stream: str = "v:0") -> float | None:
    """Return how long the stream (the picture, or the sound of a sound-only file) lasts
    from its packets' times (for a file whose header has no duration); None if unreadable."""
    cmd = [exe, "-v", "error", "-select_streams", stream, "-show_entries",
           "packet=pts_time,duration_time", "-of", "csv=p=0", str(path)]
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=PROBE_TIMEOUT_SECONDS,
                             check=False)
    except subprocess.TimeoutExpired:
        return None
    end = None
    for line in out.stdout.decode("ascii", "replace").splitlines():
        pts, _, length = line.partition(",")
        start = _number(pts)
        if start is not None:
            end = max(end or 0.0, start + (_number(length.strip(",")) or 0.0))
    return end or None


def parse_probe(data: dict, container: Container) -> MediaProbe:
    """Turn ffprobe's JSON into a MediaProbe (cover art is not a video stream)."""
    streams = data.get("streams") or []
    videos = [s for s in streams if s.get("codec_type") == "video"
              and not (s.get("disposition") or {}).get("attached_pic")]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    fmt = data.get("format") or {}
    video = videos[0] if videos else {}
    audio = audios[0] if audios else {}
    duration = _number(fmt.get("duration")) or _number(video.get("duration"))
    frames = _number(video.get("nb_frames"))
    return MediaProbe(
        container=container.name, format_name=fmt.get("format_name") or "",
        duration_seconds=duration, width=video.get("width"), height=video.get("height"),
        rotation=_rotation(video), video_codec=video.get("codec_name"),
        pixel_format=video.get("pix_fmt"),
        frame_rate=_frame_rate(video),
        frame_count=int(frames) if frames else None,
        audio_codec=audio.get("codec_name"), has_audio=bool(audios))


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and number >= 0 else None  # not NaN, not negative


def _frame_rate(stream: dict) -> float | None:
    """Return the stream's frame rate, or None where the file does not say one.

    A browser's recording of a screen or a canvas has frames at uneven moments: ffprobe then
    gives no average rate and, as `r_frame_rate`, the stream's clock (a WebM's millisecond
    time base: "1000/1"). That is no frame rate: taken as one, it read as a 1000 fps bomb.
    """
    average = _rate(stream.get("avg_frame_rate"))
    if average:
        return average
    guessed = _rate(stream.get("r_frame_rate"))
    clock = _rate(stream.get("time_base"))
    if guessed and clock and abs(guessed * clock - 1) < 1e-9:
        return None
    return guessed


def _rate(value) -> float | None:
    try:
        num, _, den = str(value).partition("/")
        rate = float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return None
    return rate if rate > 0 else None


def _rotation(stream: dict) -> int:
    """Return the clockwise rotation a player applies (display matrix or `rotate` tag)."""
    degrees = None
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            degrees = -float(side["rotation"])  # the matrix turns counter-clockwise
    if degrees is None:
        degrees = _number((stream.get("tags") or {}).get("rotate")) or 0
    return int(round(degrees / 90.0)) * 90 % 360


def check_limits(found: MediaProbe, max_duration_seconds: int | None,
                 accepts_audio: bool = False) -> None:
    """Refuse from the headers alone: no picture (unless the assignment accepts sound-only
    files), a bomb, or longer than allowed."""
    if found.sound_only and accepts_audio:
        _check_duration(found, max_duration_seconds)
        return
    if not found.video_codec:
        raise Refused(messages.SOUND_ONLY if found.has_audio else messages.NOT_A_VIDEO)
    if not found.width or not found.height:
        raise Refused(messages.CORRUPTED, "no picture size")
    if (max(found.width, found.height) > MAX_DIMENSION
            or found.width * found.height > MAX_PIXELS):
        raise Refused(messages.PICTURE_TOO_LARGE, f"{found.width}x{found.height}")
    if (found.frame_rate or 0) > MAX_FRAME_RATE or (found.frame_count or 0) > MAX_FRAMES:
        raise Refused(messages.CORRUPTED,
                      f"{found.frame_rate} fps, {found.frame_count} frames claimed")
    _check_duration(found, max_duration_seconds)


def _check_duration(found: MediaProbe, max_duration_seconds: int | None) -> None:
    """Refuse a file longer than the assignment (or the site) allows."""
    duration = found.duration_seconds or 0
    limit = max_duration_seconds or MAX_DURATION_SECONDS
    if duration > limit + 0.5:
        raise Refused(messages.TOO_LONG, f"{duration:.1f} s",
                      video_checks.too_long_message(duration, limit))


def plan_for(found: MediaProbe) -> Plan:
    """Decide whether the original plays everywhere, needs a new container, or re-encoding.

    A file without its duration in the header (a browser recording) is re-encoded even in
    a browser-safe codec: players show no length for it and cannot seek in it.
    """
    if not found.duration_in_header:
        return Plan.TRANSCODE
    if found.sound_only:
        playable = found.audio_codec in BROWSER_SAFE_SOUND.get(found.container, ())
        return Plan.KEEP if playable else Plan.TRANSCODE
    h264_aac = (found.video_codec == H264
                and found.pixel_format in BROWSER_SAFE_PIXEL_FORMATS
                and found.audio_codec in BROWSER_SAFE[MP4][1])
    for container, (video_codecs, audio_codecs) in BROWSER_SAFE.items():
        if (found.container == container.name and found.video_codec in video_codecs
                and found.audio_codec in audio_codecs
                and (container is not MP4 or h264_aac)):
            return Plan.KEEP
    if h264_aac and found.container in {c.name for c in REMUXABLE}:
        return Plan.REMUX
    return Plan.TRANSCODE


def rendition_size(found: MediaProbe) -> tuple[int, int]:
    """Return the rendition's even width and height: as shown, within 1920x1080 (or
    1080x1920 upright), never enlarged."""
    width, height = found.display_size
    long_side, short_side = max(width, height), min(width, height)
    scale = min(1.0, RENDITION_LONG_SIDE / long_side, RENDITION_SHORT_SIDE / short_side)
    return (max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2))


def rendition_fps(found: MediaProbe) -> float:
    """Return the constant frame rate of the rendition (the source's, at most 60)."""
    rate = found.frame_rate or RENDITION_DEFAULT_FPS
    return round(min(rate, RENDITION_MAX_FPS), 3)


@dataclass(frozen=True)
class EncodeSettings:
    """How hard and how long ffmpeg may work (from the PROCESSING_* settings)."""

    time_limit_seconds: int = 3 * 3600
    niceness: int = 10
    threads: int = 0
    preset: str = "veryfast"


def rendition_command(src: Path, dest: Path, found: MediaProbe, plan: Plan,
                      settings: EncodeSettings) -> list[str]:
    """Build the ffmpeg command that writes the MP4 rendition with progress on stdout (for
    a sound-only file: AAC alone in the MP4, what an .m4a holds)."""
    exe = video_checks.ffmpeg_path() or "ffmpeg"
    if found.sound_only:
        return [exe, "-nostdin", "-v", "error", "-y", "-i", str(src), "-map", "0:a:0",
                "-vn", "-sn", "-dn", "-map_metadata", "-1", "-c:a", "aac", "-b:a",
                RENDITION_AUDIO_BITRATE, "-ac", "2", "-movflags", "+faststart", "-f", "mp4",
                "-progress", "pipe:1", "-nostats", str(dest)]
    cmd = [exe, "-nostdin", "-v", "error", "-y", "-i", str(src), "-map", "0:v:0",
           "-map", "0:a:0?", "-sn", "-dn", "-map_metadata", "-1"]
    if plan is Plan.REMUX:
        cmd += ["-c", "copy"]
    else:
        width, height = rendition_size(found)
        # ffmpeg turns the picture upright while decoding (autorotate) and writes no
        # rotation into the output; scale and fps then give the size and a constant rate.
        cmd += ["-vf", f"scale={width}:{height},fps={rendition_fps(found)},format=yuv420p",
                "-fps_mode", "cfr", "-c:v", "libx264", "-preset", settings.preset,
                "-crf", str(RENDITION_CRF), "-profile:v", "high", "-threads",
                str(settings.threads), "-c:a", "aac", "-b:a", RENDITION_AUDIO_BITRATE,
                "-ac", "2"]
    return cmd + ["-movflags", "+faststart", "-f", "mp4", "-progress", "pipe:1", "-nostats",
                  str(dest)]


class EncodeFailed(Exception):
    """ffmpeg could not write the rendition."""


class EncodeTimedOut(EncodeFailed):
    """ffmpeg ran past the time limit and was stopped."""


ProgressCallback = Callable[[float, float | None], None]


@dataclass
class _Watch:
    started: float = field(default_factory=time.monotonic)
    last_report: float = 0.0
    timed_out: bool = False


def encode(src: Path, dest: Path, found: MediaProbe, plan: Plan, settings: EncodeSettings,
           on_progress: ProgressCallback | None = None) -> None:
    """Run ffmpeg for the rendition, niced and under the time limit; report progress.

    `on_progress(percent, eta_seconds)` is called every couple of seconds from ffmpeg's
    `-progress` output. The file appears at `dest` only when ffmpeg succeeded.
    """
    tmp = dest.with_name(dest.name + ".part")
    cmd = rendition_command(src, tmp, found, plan, settings)
    watch = _Watch()
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors,
                                stdin=subprocess.DEVNULL)
        _lower_priority(proc.pid, settings.niceness)

        def stop() -> None:
            watch.timed_out = True
            proc.kill()

        timer = threading.Timer(settings.time_limit_seconds, stop)
        timer.daemon = True
        timer.start()
        try:
            for line in proc.stdout:
                key, _, value = line.decode("ascii", "replace").strip().partition("=")
                if key == "out_time_us" and on_progress is not None:
                    _report(watch, _number(value), found.duration_seconds, on_progress)
            proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if watch.timed_out:
            tmp.unlink(missing_ok=True)
            raise EncodeTimedOut(f"stopped after {settings.time_limit_seconds} s")
        if proc.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
            errors.seek(0)
            tmp.unlink(missing_ok=True)
            raise EncodeFailed(errors.read(600).decode("utf-8", "replace").strip())
    os.replace(tmp, dest)


def _report(watch: _Watch, out_time_us: float | None, duration: float | None,
            on_progress: ProgressCallback) -> None:
    now = time.monotonic()
    if not out_time_us or not duration or now - watch.last_report < PROGRESS_EVERY_SECONDS:
        return
    watch.last_report = now
    fraction = min(0.99, out_time_us / 1e6 / duration)
    elapsed = now - watch.started
    eta = elapsed * (1 - fraction) / fraction if fraction > 0.01 else None
    on_progress(round(fraction * 100, 1), eta)


def _lower_priority(pid: int, niceness: int) -> None:
    """Nice ffmpeg so web requests on the same machine stay quick."""
    if niceness <= 0:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, pid, niceness)
    except (OSError, AttributeError) as exc:  # gone already, or not on this system
        log.debug("could not lower ffmpeg's priority: %s", exc)


def strip_command(src: Path, dest: Path, duration_seconds: float) -> list[str]:
    """Build the ffmpeg command that writes STRIP_FRAMES frames, evenly spread, side by side
    in one JPEG (each seeked to, so a long video is not decoded through)."""
    exe = video_checks.ffmpeg_path() or "ffmpeg"
    width, height = STRIP_CELL
    cmd = [exe, "-nostdin", "-v", "error", "-y"]
    chains = []
    for n in range(STRIP_FRAMES):
        at = duration_seconds * (n + 0.5) / STRIP_FRAMES
        cmd += ["-ss", f"{at:.3f}", "-i", str(src)]
        # Upright (ffmpeg turns it while decoding), fitted into the cell, one frame.
        chains.append(f"[{n}:v:0]scale={width}:{height}:force_original_aspect_ratio=decrease,"
                      f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1,"
                      f"trim=end_frame=1[f{n}]")
    frames = "".join(f"[f{n}]" for n in range(STRIP_FRAMES))
    graph = ";".join(chains) + f";{frames}hstack=inputs={STRIP_FRAMES}[strip]"
    return cmd + ["-filter_complex", graph, "-map", "[strip]", "-frames:v", "1", "-q:v", "5",
                  "-f", "mjpeg", str(dest)]


def make_strip(src: Path, dest: Path, duration_seconds: float | None) -> bool:
    """Write the hover strip; False (logged) when the video is too short or ffmpeg fails.

    The strip is a nicety: a video without one still plays, so failures never fail the job.
    """
    if not duration_seconds or duration_seconds < STRIP_MIN_SECONDS:
        return False
    tmp = dest.with_name(dest.name + ".part")
    return video_checks.write_image(strip_command(src, tmp, duration_seconds), tmp, dest,
                                    "hover strip", src.name, STRIP_TIMEOUT_SECONDS)


def make_thumbnail(src: Path, dest: Path, duration_seconds: float | None) -> bool:
    """Write the JPEG still (video_checks.make_thumbnail: one frame near the start)."""
    return video_checks.make_thumbnail(src, dest, duration_seconds)
