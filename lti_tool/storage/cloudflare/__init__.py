"""Cloudflare Stream: the backend (backend.py), its API client (api.py), locally signed
playback tokens (signing.py), processing webhooks (webhooks.py) and set-up commands (cli.py)."""
