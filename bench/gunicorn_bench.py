"""gunicorn settings for the launch benchmark (bench/launch_bench.py), for both tools.

With BENCH_COUNT_SQL=1 each response carries `X-Bench-SQL: <statements>,<commits>`: what
the request sent to the database, counted by SQLAlchemy engine events in the thread that
served it (a gthread worker serves one request per thread at a time). Bench-only: the
tool itself knows nothing of it.
"""
import os
import threading

SQL_HEADER = "X-Bench-SQL"
_counts = threading.local()


def _count(field: str):
    def listener(*_args, **_kw):
        setattr(_counts, field, getattr(_counts, field, 0) + 1)
    return listener


class CountingMiddleware:
    """Reset the counters per request; report them in a response header."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        _counts.statements = _counts.commits = 0

        def counting_start_response(status, headers, exc_info=None):
            headers = list(headers) + [(SQL_HEADER, f"{_counts.statements},{_counts.commits}")]
            return start_response(status, headers, exc_info)
        return self.app(environ, counting_start_response)


def post_worker_init(worker):
    """Wrap the app with the SQL counter when asked (the tool's scheduler stays off)."""
    if os.environ.get("BENCH_COUNT_SQL") != "1":
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    event.listen(Engine, "before_cursor_execute", _count("statements"))
    event.listen(Engine, "commit", _count("commits"))
    worker.wsgi = CountingMiddleware(worker.wsgi)


def pre_fork(server, worker):
    """As the tool's gunicorn.conf.py: freeze the preloaded app before forking."""
    import gc
    gc.collect()
    gc.freeze()
