"""Watching a video: playback grants for those allowed, status polls, and the signed media
routes of videos the app serves itself (views.py, grants.py)."""
