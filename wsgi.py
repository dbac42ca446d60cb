"""WSGI entry point: `gunicorn wsgi:app`."""
from lti_tool import create_app

app = create_app()
