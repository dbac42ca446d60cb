"""Hand the upload to a phone: a short-lived link (QR code and short code) the student's phone
claims to upload one attempt for them, while the desktop page follows it (docs/pages.md)."""
