"""gunicorn settings, read automatically when gunicorn starts in this folder.

Scheduled jobs start in each worker after the fork, never in the master, so `--preload`
(workers share the app's pages with the master) is safe.
"""


def post_worker_init(worker):
    """Start this worker's job scheduler once the app is loaded (lti_tool.jobs)."""
    from lti_tool import jobs
    jobs.start_in_worker()
