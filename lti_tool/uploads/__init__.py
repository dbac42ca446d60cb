"""Handing in a video: what a submission accepts (rules.py), the life of an attempt
(attempts.py), what the student's page shows (status.py, pages.py), the JSON API
(views.py), the S3 multipart API (multipart_views.py) and the file checks (video_checks.py)."""
