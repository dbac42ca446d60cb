"""The local-disk backend, the embedded default (backend.py): our tus endpoint in, signed range
requests out."""
