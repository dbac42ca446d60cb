"""Parse what a request brings at the boundary, once: JSON bodies, ids, file names, redirect
targets, and NUL bytes anywhere a database would choke on them.

Views call these instead of reading `request.get_json()` or `int(...)` themselves, so every
hostile input (ids beyond the database's integers, JSON nested thousands deep, lone
surrogates, NaN, NUL, CR/LF in names, redirects to other sites) gets the same clear 4xx.
"""
from __future__ import annotations

import json
import logging
import math
import re
import unicodedata
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit

from flask import Flask, request
from werkzeug.routing import IntegerConverter, ValidationError

from lti_tool.errors import ToolError

log = logging.getLogger(__name__)

# Ids are the database's integer primary keys: PostgreSQL's int4 (SQLite takes as much).
MAX_ID = 2**31 - 1
MAX_ID_DIGITS = len(str(MAX_ID))
# The API's JSON bodies are small forms; nothing legitimate comes near these.
DEFAULT_JSON_MAX_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32
# Whole numbers in a JSON body: a 64-bit integer at most (sizes in bytes fit).
MAX_JSON_INT_DIGITS = 19
JSON_MEDIA_TYPE = "application/json"
MAX_FILENAME_CHARS = 255
FALLBACK_FILENAME = "video"
NUL = "\x00"
# The header a fetch call carries its launch in (auth.LAUNCH_HEADER; named here too because
# auth imports the models, and this module must load before any blueprint).
LAUNCH_HEADER = "X-LTI-Launch"
FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Forms up to this size are read to look for NUL; a larger one (a caption file) is refused
# by its own view before it is read, so the hook never makes a view read what it would not.
FORM_SCAN_MAX_BYTES = 2 * 1024 * 1024

# A string (to its closing quote, or to the end when unterminated, so the scan is linear) or
# a bracket.
_STRING_OR_BRACKET = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)
_ASCII_DIGITS = re.compile(r"[0-9]{1,%d}" % MAX_ID_DIGITS)
# Bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) are category Cf,
# as are the zero-width characters: every "format" and "control" character goes.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class BadInput(ToolError):
    """A request whose body, id, name or parameters cannot be taken as sent."""

    http_status = 400
    code = "bad_request"
    title = "The request could not be read"


# ---- JSON bodies ----------------------------------------------------------------------------

def json_body(max_bytes: int = DEFAULT_JSON_MAX_BYTES,
              media_types: tuple[str, ...] | None = None, *, required: bool = True) -> dict:
    """Return the request's JSON object, or raise BadInput with a clear message.

    The content type must be JSON (`media_types`, default application/json or
    application/*+json); the body at most `max_bytes`. A request without a body gives {}
    when the body is not `required`.
    """
    length = request.content_length
    if length == 0 or (length is None and not request.mimetype):
        if required:
            raise BadInput("Send a JSON object in the request body.", code="bad_json")
        return {}
    mimetype = request.mimetype
    if not (mimetype in media_types if media_types else is_json_type(mimetype)):
        wanted = " or ".join(media_types or (JSON_MEDIA_TYPE,))
        raise BadInput(f"Send the request body as JSON (Content-Type: {wanted}).",
                       code="unsupported_media_type", http_status=415)
    # Read at most one byte past the limit: a body without Content-Length is not trusted.
    raw = b"" if (length or 0) > max_bytes else request.stream.read(max_bytes + 1)
    if (length or 0) > max_bytes or len(raw) > max_bytes:
        raise BadInput(f"The JSON body is larger than {max_bytes} bytes.", code="too_large",
                       http_status=413)
    return loads_object(raw)


def is_json_type(mimetype: str) -> bool:
    """Tell whether a media type is JSON (application/json or application/*+json)."""
    return mimetype == JSON_MEDIA_TYPE or (mimetype.startswith("application/")
                                           and mimetype.endswith("+json"))


def loads_object(raw: bytes | str) -> dict:
    """Decode a JSON object under the API's rules, or raise BadInput (code bad_json).

    Refused: nesting deeper than MAX_JSON_DEPTH (checked by a scan, before the recursive
    decoder runs), NaN and Infinity, numbers that overflow, NUL and lone surrogates in any
    string or key, and anything but an object at the top.
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    if json_depth(data) > MAX_JSON_DEPTH:
        raise BadInput(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.",
                       code="bad_json")
    try:
        value = json.loads(data, parse_constant=_refuse_constant, parse_float=_finite_float,
                           parse_int=_bounded_int)
    except _Refused as exc:
        raise BadInput(str(exc), code="bad_json") from None
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError included
        raise BadInput("The request body is not valid JSON.", code="bad_json") from None
    if not isinstance(value, dict):
        raise BadInput("The JSON body must be an object ({...}).", code="bad_json")
    problem = _bad_string_in(value)
    if problem:
        raise BadInput(f"The JSON body holds {problem}.", code="bad_json")
    return value


def json_or_form(max_bytes: int = DEFAULT_JSON_MAX_BYTES) -> Mapping[str, Any]:
    """Return a JSON body's object, or the posted form for anything else (pages' forms)."""
    return json_body(max_bytes) if is_json_type(request.mimetype) else request.form


def json_depth(data: bytes) -> int:
    """Return how deep arrays and objects nest in JSON text, without recursing."""
    depth = deepest = 0
    for match in _STRING_OR_BRACKET.finditer(data):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


class _Refused(ValueError):
    pass


def _refuse_constant(name: str):
    raise _Refused(f"The JSON body holds {name}, which is not a number JSON allows.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"The number {text[:20]}… in the JSON body is too large.")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise _Refused(f"The number {text[:20]}… in the JSON body is too large.")
    return int(text)


def _bad_string_in(value: Any) -> str | None:
    """Name the first NUL or lone surrogate in a decoded value's strings and keys."""
    stack = [value]
    while stack:  # iterative: the depth is bounded already, but no recursion is needed
        item = stack.pop()
        if isinstance(item, str):
            problem = string_problem(item)
            if problem:
                return problem
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def string_problem(text: str) -> str | None:
    """Name what a text holds that no database column can keep (NUL, lone surrogates)."""
    if NUL in text:
        return "a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "a lone surrogate (an invalid \\ud800-\\udfff escape)"
    return None


# ---- ids ------------------------------------------------------------------------------------

def parse_id(value: Any) -> int | None:
    """Return a database id (1..2**31-1) from an int or a string of ASCII digits, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _ASCII_DIGITS.fullmatch(value):
        number = int(value)
    else:
        return None
    return number if 1 <= number <= MAX_ID else None


class IdConverter(IntegerConverter):
    """The `int` URL converter, bounded to database ids: other values are 404 like unknown ids."""

    regex = r"[0-9]+"

    def to_python(self, value: str) -> int:
        number = parse_id(value)
        if number is None:
            raise ValidationError()
        return number


# ---- file names -----------------------------------------------------------------------------

def clean_filename(name: Any, fallback: str = FALLBACK_FILENAME) -> str:
    """Return a file name safe to store and to send in a header.

    Drops control and format characters (CR, LF, NUL, bidi overrides, ...) and path
    separators, collapses whitespace, and keeps at most MAX_FILENAME_CHARS characters with
    the extension.
    """
    if not isinstance(name, str):
        return fallback
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(" " if ch.isspace() else ch for ch in name
                   if ch.isspace() or unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    kept = " ".join(kept.split()).strip(". ")
    if not kept:
        return fallback
    if len(kept) > MAX_FILENAME_CHARS:
        stem, dot, ext = kept.rpartition(".")
        ext = dot + ext if dot and 0 < len(ext) <= 16 else ""
        kept = kept[:MAX_FILENAME_CHARS - len(ext)].rstrip(". ") + ext
    return kept


# ---- redirects ------------------------------------------------------------------------------

def safe_next(url: Any) -> str | None:
    """Return a redirect target when it is a path on this site, else None (no open redirect).

    The path is checked as sent and once percent-decoded: `/%09/evil.example` is refused.
    """
    if not isinstance(url, str) or not _is_local_path(url):
        return None
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not _is_local_path(unquote(parts.path)):
        return None
    return url


def _is_local_path(url: str) -> bool:
    return (url.startswith("/") and not url.startswith("//") and "\\" not in url
            and not any(ch.isspace() or unicodedata.category(ch) in _DROPPED_CATEGORIES
                        for ch in url))


# ---- NUL anywhere ---------------------------------------------------------------------------

def find_nul() -> str | None:
    """Name the part of the request (path, query, form, launch header) that holds a NUL."""
    if NUL in request.path:
        return "the address"
    for key, value in request.args.items(multi=True):
        if NUL in key or NUL in value:
            return f"the query parameter {key.replace(NUL, '')!r}"
    if NUL in request.headers.get(LAUNCH_HEADER, ""):
        return f"the {LAUNCH_HEADER} header"
    if (request.mimetype in FORM_MEDIA_TYPES  # other bodies are streamed or JSON: not read
            and (request.content_length or FORM_SCAN_MAX_BYTES + 1) <= FORM_SCAN_MAX_BYTES):
        for key, value in request.form.items(multi=True):
            if NUL in key or NUL in value:
                return f"the form field {key.replace(NUL, '')!r}"
    return None


def refuse_nul() -> None:
    """Refuse a request that carries a NUL byte where the app would read it (before_request)."""
    where = find_nul()
    if where:
        raise BadInput(f"{where[0].upper()}{where[1:]} holds a NUL character, which is not "
                       "allowed.", code="nul_character")


def init_app(app: Flask) -> None:
    """Bound every `<int:...>` route to database ids and refuse NUL bytes in every request.

    Call before any blueprint registers: a rule takes its converter when it is added.
    """
    app.url_map.converters["int"] = IdConverter
    app.before_request(refuse_nul)
