"""gunicorn settings, read automatically when gunicorn starts in this folder.

Scheduled jobs start in each worker after the fork, never in the master, so `--preload`
(workers share the app's pages with the master) is safe.
"""


def pre_fork(server, worker):
    """Before each fork: collect, then freeze what the master holds (the preloaded app).

    A worker's first garbage collection would otherwise walk every inherited object and
    write to its pages, copying them into the worker: about 16 MiB of private memory per
    worker (bench/README.md). Frozen objects are never examined again.
    """
    import gc
    gc.collect()
    gc.freeze()


def post_worker_init(worker):
    """Start this worker's job scheduler once the app is loaded (lti_tool.jobs)."""
    from lti_tool import jobs
    jobs.start_in_worker()


def child_exit(server, worker):
    """Drop a dead worker's metric files (Prometheus multiprocess mode, docs/admin-operations.md)."""
    import os
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)


# Access log lines without the query string or the Referer: the tool's URLs carry launch ids
# (`?launch=`) and signed media grants (`?token=`), which are bearer credentials and must not
# reach the logs (docs/security.md).
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"'
