"""STUDIO_STORAGE=s3 against an S3-compatible server on loopback (moto's
server mode): upload through the API, render by a worker process that shares
no disk with the web process, download through the signed URL.

What the server itself checks, and what it cannot (moto 5.2.5):

* Request signatures in the Authorization header ARE verified once IAM auth is
  on (``/moto-api/reset-auth`` = INITIAL_NO_AUTH_ACTION_COUNT=0, with an IAM
  user, policy and access key created through moto's IAM API): the web
  process and the remote worker talk to the bucket with those keys, and a
  client with the wrong secret gets 403 SignatureDoesNotMatch
  (moto/core/authorization.py ``_authenticate_and_authorize_action`` ->
  moto/iam/access_control.py ``IAMRequestBase.check_signature``).
* A URL without any signature is refused by the server (403 on a private
  object: moto/s3/responses.py ``_key_response``, "not authorized_request and
  not signed_url").
* Presigned (query-string) URLs are NOT verified by moto: ``IAMRequestBase``
  only reads the Authorization header (a presigned GET with auth on fails with
  KeyError 'HTTP_AUTHORIZATION', a 500 even for a valid URL), and with auth off
  ``_key_response`` only looks for the substring "Signature=" in the URL; moto
  has no X-Amz-Expires/X-Amz-Date check anywhere. So auth is switched off
  while the browser-side GETs run, and the refusal of an expired or tampered
  URL is checked by re-computing the SigV4 query signature with botocore, the
  way S3 does, and by reading the expiry the URL carries.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import boto3
import pytest
import requests
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from django.core.files.storage import default_storage
from PIL import Image

from gallery.models import Artwork
from tests.conftest import image_bytes, upload_file
from tests.site.test_live_server import _database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "studio-media"
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _set_auth(endpoint: str, initial_no_auth_action_count: str) -> None:
    """ "0": moto verifies the Authorization header of every request from now
    on; "inf": it lets everything through (moto's default)."""
    response = requests.post(
        f"{endpoint}/moto-api/reset-auth",
        data=initial_no_auth_action_count.encode(),
        timeout=10,
    )
    response.raise_for_status()


@contextlib.contextmanager
def _presigned_gets(endpoint: str):
    """moto cannot authenticate a presigned GET with auth on (500, see the
    module docstring): let browser-side GETs through, then verify again."""
    _set_auth(endpoint, "inf")
    try:
        yield
    finally:
        _set_auth(endpoint, "0")


def _s3_client(endpoint: str, key_id: str, secret: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(signature_version="s3v4"),
    )


@pytest.fixture(scope="module")
def s3_server():
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(endpoint, timeout=1)
                break
            except requests.RequestException:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("moto server did not start")
                time.sleep(0.2)
        # An IAM user allowed to use the bucket, and its access key: the only
        # credentials the server accepts once auth is switched on.
        iam = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="bootstrap",
            aws_secret_access_key="bootstrap",
        )
        iam.create_user(UserName="studio")
        iam.put_user_policy(
            UserName="studio",
            PolicyName="studio-media",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "s3:*",
                            "Resource": [
                                f"arn:aws:s3:::{BUCKET}",
                                f"arn:aws:s3:::{BUCKET}/*",
                            ],
                        }
                    ],
                }
            ),
        )
        key = iam.create_access_key(UserName="studio")["AccessKey"]
        _set_auth(endpoint, "0")
        yield {
            "endpoint": endpoint,
            "key_id": key["AccessKeyId"],
            "secret": key["SecretAccessKey"],
        }
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def s3_settings(settings, s3_server):
    endpoint = s3_server["endpoint"]
    key_id, secret = s3_server["key_id"], s3_server["secret"]
    client = _s3_client(endpoint, key_id, secret)
    client.create_bucket(Bucket=BUCKET)
    env = {
        "STUDIO_STORAGE": "s3",
        "STUDIO_S3_BUCKET": BUCKET,
        "STUDIO_S3_ENDPOINT_URL": endpoint,
        "STUDIO_S3_REGION": REGION,
        "STUDIO_S3_ACCESS_KEY_ID": key_id,
        "STUDIO_S3_SECRET_ACCESS_KEY": secret,
    }
    settings.STUDIO_STORAGE = "s3"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": endpoint,
                "region_name": REGION,
                "access_key": key_id,
                "secret_key": secret,
                "default_acl": None,
                "querystring_auth": True,
                "querystring_expire": settings.STUDIO_S3_URL_EXPIRY,
                "signature_version": "s3v4",
                "file_overwrite": False,
                "addressing_style": "path",
            },
        },
    }
    yield {"client": client, "env": env, "endpoint": endpoint, "secret": secret}
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def _run_remote_worker(env_overrides: dict[str, str], tmp_path) -> None:
    """An rq worker with only DATABASE_URL, REDIS_URL and the bucket settings,
    and an empty media folder of its own: a worker on another machine."""
    keep = {"PATH", "HOME", "LANG", "PYTHONPATH", "SYSTEMROOT"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        DJANGO_SETTINGS_MODULE="artstudio_site.settings",
        DATABASE_URL=_database_url(),
        REDIS_URL=os.environ["REDIS_URL"],
        STUDIO_VAR_DIR=str(tmp_path / "other-machine"),
        MEDIA_ROOT=str(tmp_path / "other-machine" / "media"),
        **env_overrides,
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "rqworker", "default", "--burst"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert not any((tmp_path / "other-machine" / "media").rglob("*.*"))


def _signature_valid(url: str, secret: str) -> bool:
    """Re-compute the SigV4 query signature as S3 does on a GET."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    signature = query.pop("X-Amz-Signature")
    # Byte for byte as signed: S3 canonicalises the query as it was encoded.
    raw = "&".join(
        p for p in parts.query.split("&") if not p.startswith("X-Amz-Signature=")
    )
    unsigned = urlunsplit(parts._replace(query=raw))
    key_id = query["X-Amz-Credential"].split("/")[0]
    auth = S3SigV4QueryAuth(
        Credentials(key_id, secret), "s3", REGION, expires=int(query["X-Amz-Expires"])
    )
    request = AWSRequest(method="GET", url=unsigned, headers={"Host": parts.netloc})
    request.context["timestamp"] = query["X-Amz-Date"]
    canonical = auth.canonical_request(request)
    return auth.signature(auth.string_to_sign(request, canonical), request) == signature


def _expired(url: str, now: dt.datetime) -> bool:
    query = dict(parse_qsl(urlsplit(url).query))
    signed = dt.datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(
        tzinfo=dt.UTC
    )
    return now > signed + dt.timedelta(seconds=int(query["X-Amz-Expires"]))


def test_upload_render_download_through_the_bucket(
    owner_client, other_client, s3_settings, queue, media_root, tmp_path
):
    response = owner_client.post(
        "/api/artworks/", {"style": "pencil", "image": upload_file(image_bytes())}
    )
    assert response.status_code == 202, response.content
    artwork = Artwork.objects.get()
    # The original went to the bucket, not the local media folder.
    keys = {
        o["Key"]
        for o in s3_settings["client"].list_objects_v2(Bucket=BUCKET)["Contents"]
    }
    assert keys == {artwork.photo.original.name}
    assert not any(media_root.rglob("*.*"))

    # The worker signs every bucket request with the IAM key; moto checks it.
    _run_remote_worker(s3_settings["env"], tmp_path)
    artwork.refresh_from_db()
    assert artwork.status == Artwork.Status.DONE, artwork.error
    assert default_storage.exists(artwork.result.name)
    assert default_storage.exists(artwork.thumbnail.name)

    for kind in ("result", "thumbnail", "original"):
        redirect = owner_client.get(f"/media/artworks/{artwork.pk}/{kind}/")
        assert redirect.status_code == 302
        url = redirect["Location"]
        assert url.startswith(s3_settings["env"]["STUDIO_S3_ENDPOINT_URL"])
        assert "X-Amz-Signature=" in url and "X-Amz-Expires=300" in url
        assert int(redirect["Cache-Control"].split("max-age=")[1]) <= 300
        with _presigned_gets(s3_settings["endpoint"]):
            download = requests.get(url, timeout=10)
            # The same object without the signature: refused by the server.
            unsigned = requests.get(url.split("?")[0], timeout=10)
        assert download.status_code == 200
        assert download.headers["Content-Type"].startswith("image/")
        image = Image.open(io.BytesIO(download.content))
        assert image.size[0] > 0
        assert unsigned.status_code == 403
        assert _signature_valid(url, s3_settings["secret"])
        # Signed for a short time: refused 301 s later.
        now = dt.datetime.now(dt.UTC)
        assert not _expired(url, now)
        assert _expired(url, now + dt.timedelta(seconds=301))
    # A signed download URL asks for an attachment.
    download_url = owner_client.get(f"/media/artworks/{artwork.pk}/result/?download=1")[
        "Location"
    ]
    with _presigned_gets(s3_settings["endpoint"]):
        attachment = requests.get(download_url, timeout=10)
    assert attachment.status_code == 200
    assert "attachment" in attachment.headers.get("Content-Disposition", "")
    # Someone else gets no URL at all.
    for kind in ("result", "thumbnail", "original"):
        assert (
            other_client.get(f"/media/artworks/{artwork.pk}/{kind}/").status_code == 404
        )


def test_tampered_signed_url_does_not_verify(owner_client, s3_settings, queue):
    response = owner_client.post(
        "/api/artworks/", {"style": "pencil", "image": upload_file(image_bytes())}
    )
    artwork = Artwork.objects.get(pk=response.json()["artworks"][0]["id"])
    url = owner_client.get(f"/media/artworks/{artwork.pk}/original/")["Location"]
    assert _signature_valid(url, s3_settings["secret"])
    # Another object, a longer life, another response type: one change each.
    tampered = [
        url.replace("/originals/", "/results/"),
        url.replace("X-Amz-Expires=300", "X-Amz-Expires=604800"),
        url.replace(
            "response-content-type=image%2Fjpeg", "response-content-type=text%2Fhtml"
        ),
    ]
    for changed in tampered:
        assert changed != url
        assert not _signature_valid(changed, s3_settings["secret"])
    assert not _signature_valid(url, "not-the-secret")


def test_bucket_refuses_requests_not_signed_with_the_key(s3_settings):
    """Checked by the server itself: moto verifies the SigV4 Authorization
    header against the IAM access key the app is configured with."""
    client, endpoint = s3_settings["client"], s3_settings["endpoint"]
    client.put_object(Bucket=BUCKET, Key="originals/probe.jpg", Body=b"x")
    key_id = s3_settings["env"]["STUDIO_S3_ACCESS_KEY_ID"]
    for wrong, code in [
        (_s3_client(endpoint, key_id, "not-the-secret"), "SignatureDoesNotMatch"),
        (_s3_client(endpoint, "AKIANOTAKEY00000000", "x"), "InvalidAccessKeyId"),
    ]:
        for call in (
            lambda c=wrong: c.get_object(Bucket=BUCKET, Key="originals/probe.jpg"),
            lambda c=wrong: c.put_object(
                Bucket=BUCKET, Key="originals/evil", Body=b"x"
            ),
        ):
            with pytest.raises(ClientError) as refused:
                call()
            assert refused.value.response["Error"]["Code"] == code
            assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {"originals/probe.jpg"}
