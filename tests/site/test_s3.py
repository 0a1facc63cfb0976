"""STUDIO_STORAGE=s3 against an S3-compatible server on loopback (moto's
server mode): upload through the API, render by a worker process that shares
no disk with the web process, download through the signed URL.

moto does not check presigned-URL signatures or expiry (it authenticates the
Authorization header only), so the refusal of an expired or tampered URL is
checked by re-computing the SigV4 query signature with botocore, the way S3
does, and by reading the expiry the URL carries.
"""

from __future__ import annotations

import datetime as dt
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
from botocore.credentials import Credentials
from django.core.files.storage import default_storage
from PIL import Image

from gallery.models import Artwork
from tests.conftest import image_bytes, upload_file
from tests.site.test_live_server import _database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "studio-media"
KEY_ID, SECRET = "testing-key", "testing-secret"
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
        yield endpoint
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def s3_settings(settings, s3_server):
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    client.create_bucket(Bucket=BUCKET)
    env = {
        "STUDIO_STORAGE": "s3",
        "STUDIO_S3_BUCKET": BUCKET,
        "STUDIO_S3_ENDPOINT_URL": s3_server,
        "STUDIO_S3_REGION": REGION,
        "STUDIO_S3_ACCESS_KEY_ID": KEY_ID,
        "STUDIO_S3_SECRET_ACCESS_KEY": SECRET,
    }
    settings.STUDIO_STORAGE = "s3"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_server,
                "region_name": REGION,
                "access_key": KEY_ID,
                "secret_key": SECRET,
                "default_acl": None,
                "querystring_auth": True,
                "querystring_expire": settings.STUDIO_S3_URL_EXPIRY,
                "signature_version": "s3v4",
                "file_overwrite": False,
                "addressing_style": "path",
            },
        },
    }
    yield {"client": client, "env": env}
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


def _signature_valid(url: str, secret: str = SECRET) -> bool:
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
        download = requests.get(url, timeout=10)
        assert download.status_code == 200
        assert download.headers["Content-Type"].startswith("image/")
        image = Image.open(__import__("io").BytesIO(download.content))
        assert image.size[0] > 0
        assert _signature_valid(url)
        # Signed for a short time: refused 301 s later.
        now = dt.datetime.now(dt.UTC)
        assert not _expired(url, now)
        assert _expired(url, now + dt.timedelta(seconds=301))
    # A signed download URL asks for an attachment.
    download_url = owner_client.get(f"/media/artworks/{artwork.pk}/result/?download=1")[
        "Location"
    ]
    assert "attachment" in requests.get(download_url, timeout=10).headers.get(
        "Content-Disposition", ""
    )
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
    assert _signature_valid(url)
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
        assert not _signature_valid(changed)
    assert not _signature_valid(url, secret="not-the-secret")
