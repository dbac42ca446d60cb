"""Captions of submitted videos: the rules and the panel (service.py), the JSON API (views.py);
the storage backends keep or generate the files."""
