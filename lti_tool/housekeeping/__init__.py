"""Keeping the stored videos in order over a term: retention, orphans, usage reports.

Each is a job (lti_tool/jobs.py): a plain function returning counts, safe to run twice.
"""
