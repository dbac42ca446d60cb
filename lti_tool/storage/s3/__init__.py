"""S3 and S3-compatible stores (R2, MinIO): the backend with browser multipart uploads
(backend.py) and set-up commands (cli.py)."""
