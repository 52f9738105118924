"""boto3, behind the few calls the S3 transport makes, with S3's errors turned into ours.

boto3 is an optional extra (``pip install 'extract-tracker[s3]'``): it is imported here, and this
module only when an ``s3://`` remote is used, so nobody else pays its ~0.5 s import or its
37 MB. Credentials come only from the AWS chain (environment, ``~/.aws`` profiles,
``AWS_PROFILE``, SSO, instance and container roles); the endpoint from the remote's
``endpoint_url`` setting, else ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` / a
profile, as the AWS tools read them.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from extract.errors import (
    ExtractError,
    MissingExtra,
    ObjectNotFound,
    RemoteError,
    StoreNotFound,
)

#: Simultaneous requests (and pooled connections) per transport.
WORKERS = 8
#: The ETag S3 never gives an object: what the probe's wrong If-Match names.
_NO_ETAG = '"00000000000000000000000000000000"'


def _boto() -> tuple[Any, Any, Any]:
    try:
        import boto3
        import botocore.config
        import botocore.exceptions
    except ImportError:
        raise MissingExtra(
            "s3:// remotes need boto3, which is not installed: pip install 'extract-tracker[s3]'"
        ) from None
    return boto3, botocore.config, botocore.exceptions


class Lost(Exception):
    """A conditional write lost: the object was not where the writer expected it."""


class Bucket:
    """One bucket (and a key prefix in it) through a shared, thread-safe boto3 client."""

    def __init__(self, bucket: str, prefix: str, options: Mapping[str, str], url: str) -> None:
        boto3, config, self._exc = _boto()
        self.bucket = bucket
        self.prefix = prefix + "/" if prefix else ""
        self.url = url
        s3_cfg: dict[str, str] = {}
        if "addressing_style" in options:
            s3_cfg["addressing_style"] = options["addressing_style"]
        cfg = config.Config(
            max_pool_connections=WORKERS,
            retries={"mode": "standard", "max_attempts": 3},
            s3=s3_cfg or None,
        )
        try:
            self.client = boto3.session.Session().client(
                "s3",
                endpoint_url=options.get("endpoint_url"),
                region_name=options.get("region"),
                config=cfg,
            )
        except self._exc.BotoCoreError as e:
            raise RemoteError(f"cannot set up S3 access for {url}: {e}") from None
        self.endpoint = str(self.client.meta.endpoint_url)

    def key(self, rel: str) -> str:
        return self.prefix + rel

    # plain requests --------------------------------------------------------------------

    def get(self, rel: str, byte_range: tuple[int, int] | None = None) -> tuple[bytes, str]:
        """The object's bytes (``byte_range``: [start, end) of them) and its ETag."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key(rel)}
        if byte_range is not None:
            args["Range"] = f"bytes={byte_range[0]}-{byte_range[1] - 1}"
        with self.errors("read", rel):
            r = self.client.get_object(**args)
            body = r["Body"].read()
        if byte_range is not None and len(body) != byte_range[1] - byte_range[0]:
            # A service that ignores Range sends the whole object (200, not 206).
            if r.get("ContentRange") is None and len(body) >= byte_range[1]:
                body = body[byte_range[0] : byte_range[1]]
            else:
                raise RemoteError(
                    f"{self.where(rel)}: asked for {byte_range[1] - byte_range[0]} bytes at "
                    f"{byte_range[0]}, got {len(body)}: the object is shorter than its index says"
                )
        return body, str(r["ETag"])

    def get_or_none(self, rel: str) -> tuple[bytes, str] | None:
        try:
            return self.get(rel)
        except ObjectNotFound:
            return None

    def put(self, rel: str, body: bytes, if_match: str | None = None, create: bool = False) -> str:
        """Write ``rel``; ``create``: only if absent (If-None-Match: *), ``if_match``: only
        if its ETag is still this. A lost condition raises Lost. Returns the new ETag."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key(rel), "Body": body}
        if create:
            args["IfNoneMatch"] = "*"
        elif if_match is not None:
            args["IfMatch"] = if_match
        with self.errors("write", rel, conditional=create or if_match is not None):
            return str(self.client.put_object(**args)["ETag"])

    def put_multipart(self, rel: str, body: memoryview, part_size: int) -> None:
        """Write a large object in parts, completed only if absent (If-None-Match: *, so a
        pack already there is not rewritten: Lost). A failure aborts the upload."""
        key = self.key(rel)
        with self.errors("write", rel):
            up = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        try:
            parts = []
            for n, at in enumerate(range(0, len(body), part_size), 1):
                with self.errors("write", rel):
                    r = self.client.upload_part(
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=up,
                        PartNumber=n,
                        Body=body[at : at + part_size].tobytes(),
                    )
                parts.append({"PartNumber": n, "ETag": r["ETag"]})
            with self.errors("write", rel, conditional=True):
                self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=up,
                    MultipartUpload={"Parts": parts},
                    IfNoneMatch="*",
                )
        except BaseException:
            # A refused complete leaves the upload open; so does any other failure.
            # gc aborts what is left; the first error is the one to report.
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=up)
            raise

    def delete(self, rel: str) -> None:
        with self.errors("delete", rel):
            self.client.delete_object(Bucket=self.bucket, Key=self.key(rel))

    def list_keys(
        self, rel_prefix: str, start_after: str | None = None
    ) -> Iterator[tuple[str, int, float]]:
        """(key relative to the prefix, size, last modified as a Unix time) of every object
        under ``rel_prefix``, in key order, after ``start_after`` (relative) if given."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.key(rel_prefix)}
        if start_after:
            args["StartAfter"] = self.key(start_after)
        while True:
            with self.errors("list", rel_prefix):
                r = self.client.list_objects_v2(**args)
            for item in r.get("Contents", []):
                rel = str(item["Key"])[len(self.prefix) :]
                yield rel, int(item["Size"]), float(item["LastModified"].timestamp())
            if not r.get("IsTruncated"):
                return
            args["ContinuationToken"] = r["NextContinuationToken"]

    def multipart_uploads(self) -> list[tuple[str, str, float]]:
        """(key relative to the prefix, upload id, started as a Unix time) of every
        unfinished multipart upload under the prefix."""
        out = []
        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix}
        while True:
            with self.errors("list uploads", ""):
                r = self.client.list_multipart_uploads(**args)
            for u in r.get("Uploads", []):
                rel = str(u["Key"])[len(self.prefix) :]
                out.append((rel, str(u["UploadId"]), float(u["Initiated"].timestamp())))
            if not r.get("IsTruncated"):
                return out
            args["KeyMarker"] = r["NextKeyMarker"]
            args["UploadIdMarker"] = r["NextUploadIdMarker"]

    def abort_upload(self, rel: str, upload_id: str) -> None:
        with self.errors("abort upload", rel):
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=self.key(rel), UploadId=upload_id
            )

    # conditional writes ----------------------------------------------------------------

    def probe(self) -> None:
        """Refuse a service that does not honour If-None-Match / If-Match on PutObject:
        there, two pushers would both "win" and one update would be lost. Writes only a
        fresh random key (never a ref: a service that ignores If-Match would overwrite
        it): 4 PUTs and 1 DELETE."""
        rel = f"probe/{uuid.uuid4().hex}"

        def put(**cond: Any) -> str | None:
            try:
                return self.put(rel, b"probe", **cond)
            except Lost:
                return None

        try:
            first = put(create=True)
            if first is None:
                self._unsupported("If-None-Match: * refused a write to a new key")
            if put(create=True) is not None:
                self._unsupported("it ignored If-None-Match: * (it overwrote an existing object)")
            if put(if_match=_NO_ETAG) is not None:
                self._unsupported("it ignored If-Match (it overwrote despite a wrong ETag)")
            if put(if_match=first) is None:
                self._unsupported("If-Match with the object's current ETag was refused")
        finally:
            with contextlib.suppress(ExtractError):  # a leftover probe key is harmless
                self.delete(rel)

    def _unsupported(self, what: str) -> None:
        raise RemoteError(
            f"{self.url} (at {self.endpoint}) does not support conditional writes: {what}. "
            "extract moves refs only by conditional writes (If-Match / If-None-Match), so "
            "that two pushers never lose an update; use a service that supports them (AWS "
            "S3, MinIO, Cloudflare R2, Ceph RGW 18+, ...) or a path or ssh remote"
        )

    # errors ----------------------------------------------------------------------------

    def where(self, rel: str) -> str:
        return f"s3://{self.bucket}/{self.key(rel)}"

    def errors(self, op: str, rel: str, conditional: bool = False) -> _Errors:
        return _Errors(self, op, rel, conditional)


class _Errors:
    """A context that turns boto3's exceptions into one-line extract errors."""

    def __init__(self, b: Bucket, op: str, rel: str, conditional: bool) -> None:
        self.b, self.op, self.rel, self.conditional = b, op, rel, conditional

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, e: BaseException | None, tb: Any) -> None:
        if e is None or isinstance(e, ExtractError | Lost) or not isinstance(e, Exception):
            return
        raise self.translate(e) from None

    def translate(self, e: Exception) -> Exception:
        exc, b = self.b._exc, self.b
        where = b.where(self.rel)
        if isinstance(e, exc.ClientError):
            err = e.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            if self.conditional and (status in (409, 412) or code == "PreconditionFailed"):
                # 409 ConditionalRequestConflict: AWS's answer to two conditional writes
                # of one key at once; a lost race like 412.
                return Lost(code)
            if self.conditional and status == 404 and code == "NoSuchKey":
                return Lost(code)  # If-Match on a key someone deleted
            if code == "NoSuchBucket":
                return StoreNotFound(
                    f"bucket {b.bucket!r} does not exist at {b.endpoint}: create it first "
                    f"(e.g. aws s3 mb s3://{b.bucket}), or check the remote's endpoint_url"
                )
            if code in ("NoSuchKey", "404", "NotFound"):
                return ObjectNotFound(f"{where} does not exist")
            if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch"):
                return RemoteError(
                    f"{b.endpoint} rejected the credentials ({code}): check AWS_ACCESS_KEY_ID / "
                    "AWS_SECRET_ACCESS_KEY or the profile (AWS_PROFILE) in use"
                )
            if code == "AccessDenied" or status == 403:
                return RemoteError(
                    f"permission denied to {self.op} {where} ({code or status}): "
                    "docs/sync.md lists the permissions an S3 remote needs"
                )
            msg = str(err.get("Message", "")) or str(e)
            return RemoteError(f"{b.endpoint} refused to {self.op} {where}: {code} {msg}".strip())
        if isinstance(e, exc.NoCredentialsError):
            return RemoteError(
                "no AWS credentials found for "
                f"{b.url}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
            )
        if isinstance(e, exc.EndpointConnectionError | exc.ConnectTimeoutError):
            return RemoteError(f"cannot reach {b.endpoint} ({e})")
        if isinstance(
            e,
            exc.ReadTimeoutError
            | exc.ResponseStreamingError
            | exc.IncompleteReadError
            | exc.ConnectionClosedError,
        ):
            return RemoteError(
                f"the connection to {b.endpoint} dropped while {self.op}ing {where}: "
                "run the command again; it resumes where it stopped"
            )
        if isinstance(e, exc.BotoCoreError):
            return RemoteError(f"S3 request to {self.op} {where} failed: {e}")
        return e


__all__ = ["WORKERS", "Bucket", "Lost"]
