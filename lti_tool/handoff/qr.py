"""The hand-off link as a QR code: an SVG image (segno) for an <img>, as a data: URI.

A data: URI, not a route: only the code's hash is stored, so the image can be made only
when the code is (the page's CSP allows `img-src data:`). segno's SVG has no style
attribute or element, nothing a strict CSP would refuse. White margin and modules drawn
dark on light, so phone cameras read it in a dark theme too.
"""
from __future__ import annotations

import segno

QR_SCALE = 5    # pixels per module
QR_BORDER = 4   # the quiet zone the standard asks for, in modules
QR_ERROR = "m"  # 15 % of the code may be lost (a glare, a smudge on the screen)


def qr_data_uri(url: str) -> str:
    """Return the QR code of `url` as an SVG data: URI."""
    return segno.make(url, error=QR_ERROR, micro=False).svg_data_uri(
        scale=QR_SCALE, border=QR_BORDER, dark="#000", light="#fff")
