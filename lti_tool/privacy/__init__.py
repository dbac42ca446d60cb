"""Privacy (GDPR): everything the tool holds about one person, as one JSON document, and
the erasure of it (their videos in storage included).

Used by the operator commands (privacy/cli.py), the LTI Data Privacy Launch (views.py)
and the admin pages.
"""
