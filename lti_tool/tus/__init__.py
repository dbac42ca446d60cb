"""A tus 1.0.0 server inside the app, for backends the app hosts (the local disk)."""
from .views import bp

__all__ = ["bp"]
