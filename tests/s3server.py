"""A real S3-compatible server for the S3 remote tests: moto's server mode, started once
per session as its own process on a free port of 127.0.0.1 (``python -m moto.server``).

``s3`` (per test) points the AWS environment at it (``AWS_ENDPOINT_URL``, throwaway
keys, no instance-metadata lookups), so the library, the CLI and every subprocess reach
it the way they would reach AWS, and makes a fresh bucket. The suite skips, with the
install line, only when boto3 or moto cannot be imported (``.ci/run`` installs both).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

boto3 = pytest.importorskip(
    "boto3", reason="S3 remote tests need boto3 and moto: pip install -e '.[s3,s3-test]'"
)
pytest.importorskip(
    "moto.server", reason="S3 remote tests need moto: pip install -e '.[s3,s3-test]'"
)

KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass
class MotoServer:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            **KEYS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",  # never ask 169.254.169.254 for keys
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }

    def client(self) -> Any:
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1", **_lower(KEYS)
        )


def _lower(keys: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in keys.items()}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_moto(workdir: Path, extra_env: dict[str, str] | None = None) -> MotoServer:
    port = _free_port()
    log = workdir / f"moto-{port}.log"
    out = open(log, "wb")  # noqa: SIM115 - the server writes to it until it stops
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(extra_env or {})},
    )
    out.close()
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"moto server did not start: {log.read_text()}") from None
            time.sleep(0.1)
    return MotoServer(port, proc, log)


def stop(server: MotoServer) -> None:
    server.proc.send_signal(signal.SIGTERM)
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = start_moto(tmp_path_factory.mktemp("moto"))
    yield server
    stop(server)


@dataclass
class S3:
    server: MotoServer
    bucket: str
    client: Any

    def url(self, prefix: str = "team") -> str:
        return f"s3://{self.bucket}/{prefix}" if prefix else f"s3://{self.bucket}"

    def listing(self, prefix: str = "team") -> list[str]:
        out: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            out.extend(item["Key"] for item in page.get("Contents", []))
        return out

    def read(self, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def write(self, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body)


@pytest.fixture
def s3(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> S3:
    """A fresh bucket on the session's moto server, and the environment that reaches it."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(key, raising=False)
    for key, value in moto_server.env().items():
        monkeypatch.setenv(key, value)
    client = moto_server.client()
    bucket = f"t-{uuid.uuid4().hex[:20]}"
    client.create_bucket(Bucket=bucket)
    return S3(moto_server, bucket, client)


class _Forget(BaseHTTPRequestHandler):
    """Passes every request to moto without If-Match / If-None-Match: an S3 service that
    does not implement conditional writes (as ``rclone serve s3`` does not), for the probe
    that refuses one. moto does not check signatures, so dropping signed headers is fine."""

    protocol_version = "HTTP/1.1"
    upstream = 0

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in ("if-match", "if-none-match")
        }
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream, timeout=60)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
        finally:
            conn.close()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def forgetful_proxy(server: MotoServer) -> Iterator[str]:
    """An endpoint URL in front of ``server`` that drops conditional-write headers."""
    handler = type("Forget", (_Forget,), {"upstream": server.port})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@dataclass
class AuthServer:
    """A moto server that checks credentials: one bucket, a key that may do anything and a
    read-only key (made by the first 4 requests, before moto starts checking)."""

    server: MotoServer
    bucket: str
    admin: dict[str, str]
    reader: dict[str, str]


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    server = start_moto(tmp_path_factory.mktemp("moto-auth"), {"INITIAL_NO_AUTH_ACTION_COUNT": "4"})
    try:
        root = {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "x"}
        kw = {"endpoint_url": server.endpoint, "region_name": "us-east-1", **root}
        session = boto3.session.Session()
        session.client("s3", **kw).create_bucket(Bucket="guarded")  # 1
        iam = session.client("iam", **kw)
        iam.create_user(UserName="reader")  # 2
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                # (moto names ListObjectsV2 s3:ListObjectsV2, not s3:ListBucket as AWS does)
                {"Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"}
            ],
        }
        iam.put_user_policy(  # 3
            UserName="reader", PolicyName="ro", PolicyDocument=json.dumps(policy)
        )
        key = iam.create_access_key(UserName="reader")["AccessKey"]  # 4
        reader = {
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        }
        admin = {"AWS_ACCESS_KEY_ID": root["aws_access_key_id"], "AWS_SECRET_ACCESS_KEY": "x"}
        yield AuthServer(server, "guarded", admin, reader)
    finally:
        stop(server)
