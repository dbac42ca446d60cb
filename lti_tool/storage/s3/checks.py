""""Test connection" for S3: credentials, the bucket, writing under the prefix, and CORS.

Each call is made once (no retries) with the settings under test, so a wrong setting is
reported in seconds. S3's error codes are read here and said in words an admin can act on;
the values of the credentials never appear in a message.
"""
from __future__ import annotations

import secrets

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from lti_tool.errors import StorageError
from lti_tool.storage.base import CheckStatus, ConnectionCheck

PROBE_NAME = ".connection-test-"
CORS_GUIDE = ("Apply the CORS configuration in docs/storage-s3.md (`flask --app wsgi storage "
              "s3-check-cors` prints it for this origin).")
BAD_KEY_CODES = frozenset({"InvalidAccessKeyId", "InvalidClientTokenId"})
BAD_SECRET_CODES = frozenset({"SignatureDoesNotMatch"})
DENIED_CODES = frozenset({"AccessDenied", "403", "AllAccessDisabled"})
MISSING_BUCKET_CODES = frozenset({"NoSuchBucket", "404", "NotFound"})
WRONG_REGION_CODES = frozenset({"PermanentRedirect", "301", "AuthorizationHeaderMalformed",
                                "IllegalLocationConstraintException"})


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _region_of(exc: ClientError) -> str:
    headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return headers.get("x-amz-bucket-region", "")


def _failed(name: str, message: str) -> ConnectionCheck:
    return ConnectionCheck(name, CheckStatus.FAILED, message)


def _passed(name: str, message: str) -> ConnectionCheck:
    return ConnectionCheck(name, CheckStatus.PASSED, message)


def _unreachable(name: str, exc: BotoCoreError, endpoint: str) -> ConnectionCheck:
    if isinstance(exc, NoCredentialsError):
        return _failed(name, "No credentials: set the access key id and the secret access "
                             "key, or give the server an IAM role.")
    where = endpoint or "S3"
    return _failed(name, f"The tool could not reach {where} ({type(exc).__name__}). Check "
                         "the endpoint URL and region, and that this server may connect out "
                         "to it (firewall, proxy).")


def check_connection(backend, origin: str) -> list[ConnectionCheck]:
    """Check the settings of `backend` (an S3Storage) against S3 for real (see
    ConnectionChecks)."""
    bucket = backend.setting("S3_BUCKET", "") or ""
    endpoint = backend.setting("S3_ENDPOINT_URL", "") or ""
    if not bucket:
        return [_failed("Settings", "No bucket is set. Enter the name of the bucket the videos "
                                    "go to.")]
    try:
        client = backend.client(max_attempts=1)
    except StorageError:
        return [_failed("Settings", f"The endpoint URL {endpoint} cannot be used: it must be "
                                    "an http(s) URL whose host the tool may reach (a private "
                                    "or loopback address needs OUTBOUND_ALLOWED_NETWORKS or "
                                    "OUTBOUND_ALLOW_LOOPBACK). The server log says which.")]
    checks = [_credentials(client, endpoint)]
    if not checks[-1].ok:
        return checks
    checks.append(_bucket(client, bucket, endpoint))
    if not checks[-1].ok:
        return checks
    checks.append(_write(client, bucket, backend.prefix, endpoint))
    checks.append(_cors(backend, bucket, origin))
    return checks


def _credentials(client, endpoint: str) -> ConnectionCheck:
    name = "Credentials"
    try:
        client.list_buckets()
    except ClientError as exc:
        code = _code(exc)
        if code in BAD_KEY_CODES:
            return _failed(name, "S3 does not know this access key id. Check it was copied "
                                 "whole, is still active (IAM, Security credentials) and "
                                 "belongs to this account or endpoint.")
        if code in BAD_SECRET_CODES:
            return _failed(name, "The secret access key does not match the access key id. "
                                 "Enter the secret shown when the key was created (or create "
                                 "a new key).")
        if code not in DENIED_CODES:
            return _failed(name, f"S3 refused the credentials ({code}).")
        return _passed(name, "S3 accepted the credentials (they may not list every bucket, "
                             "which the tool does not need).")
    except BotoCoreError as exc:
        return _unreachable(name, exc, endpoint)
    return _passed(name, "S3 accepted the credentials.")


def _bucket(client, bucket: str, endpoint: str) -> ConnectionCheck:
    name = "Bucket exists and is reachable"
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code, region = _code(exc), _region_of(exc)
        if code in MISSING_BUCKET_CODES:
            return _failed(name, f"There is no bucket named {bucket} here. Create it (private, "
                                 "see docs/storage-s3.md) or correct the bucket name.")
        if code in WRONG_REGION_CODES or (region and code in ("400", "BadRequest")):
            where = f" ({region})" if region else ""
            return _failed(name, f"The bucket {bucket} is in another region{where}. Set the "
                                 "region to the bucket's.")
        if code in DENIED_CODES:
            return _failed(name, f"These credentials may not use the bucket {bucket}: give "
                                 "them s3:ListBucket on it (and the object permissions in "
                                 "docs/storage-s3.md), or check the bucket belongs to this "
                                 "account.")
        return _failed(name, f"S3 refused to show the bucket {bucket} ({code}).")
    except BotoCoreError as exc:
        return _unreachable(name, exc, endpoint)
    return _passed(name, f"The bucket {bucket} exists and these credentials can reach it.")


def _write(client, bucket: str, prefix: str, endpoint: str) -> ConnectionCheck:
    name = "Videos can be written and deleted"
    key = f"{prefix}{PROBE_NAME}{secrets.token_hex(6)}"
    try:
        client.put_object(Bucket=bucket, Key=key, Body=b"ok")
        client.delete_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _code(exc) in DENIED_CODES:
            return _failed(name, f"These credentials may not write or delete under "
                                 f"{prefix or 'the bucket'}: give them s3:PutObject, "
                                 "s3:GetObject, s3:DeleteObject and the multipart permissions "
                                 "listed in docs/storage-s3.md.")
        return _failed(name, f"S3 refused a test file ({_code(exc)}).")
    except BotoCoreError as exc:
        return _unreachable(name, exc, endpoint)
    return _passed(name, f"A test file was written under {prefix or 'the bucket'} and deleted.")


def _cors(backend, bucket: str, origin: str) -> ConnectionCheck:
    name = "Browser uploads (CORS)"
    if not origin:
        return ConnectionCheck(name, CheckStatus.WARNING,
                               "The tool's address is unknown (set PUBLIC_BASE_URL), so the "
                               "bucket's CORS could not be checked.")
    try:
        problems = backend.cors_problems(origin)
    except StorageError:
        return _failed(name, f"The bucket's CORS configuration could not be read. Give the "
                             f"credentials s3:GetBucketCORS, or check by hand that {origin} "
                             "may PUT and that ETag is exposed. " + CORS_GUIDE)
    if problems:
        return _failed(name, f"Browsers at {origin} cannot upload to {bucket} yet: "
                             + "; ".join(problems) + ". " + CORS_GUIDE)
    return _passed(name, f"{origin} may upload parts (PUT) and read their ETag.")
