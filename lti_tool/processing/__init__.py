"""Video processing: after the last byte lands, a job on the Huey queue probes the file,
makes its thumbnail and, when browsers cannot play it as it is, an H.264/AAC MP4 rendition.

media.py runs ffprobe and ffmpeg (no database); pipeline.py is the job (one attempt from
processing to ready or error); queue.py builds the Huey queue from the settings; jobs.py
re-enqueues work a killed worker left and workdirs.py removes the files it left; retry.py is
an administrator's retry of a failed conversion; cli.py is `flask --app wsgi worker`.
"""
