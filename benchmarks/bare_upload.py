"""The floor of an upload over HTTP, for ``bench_e2e.py`` (not a test): a
bare WSGI app that reads the request body from gunicorn in 64 KB chunks,
hashes it (sha256) and answers 202 with the digest. No Django, no parsing,
no storage: what receiving the photo's bytes and hashing them costs through
the same server and client as a real upload.

    gunicorn --chdir benchmarks --bind 127.0.0.1:PORT bare_upload:application
"""

from __future__ import annotations

import hashlib

READ_SIZE = 64 * 1024


def application(environ, start_response):
    stream = environ["wsgi.input"]
    left = int(environ.get("CONTENT_LENGTH") or 0)
    digest = hashlib.sha256()
    while left > 0:
        chunk = stream.read(min(READ_SIZE, left))
        if not chunk:
            break
        digest.update(chunk)
        left -= len(chunk)
    body = b'{"sha256": "%s"}' % digest.hexdigest().encode()
    start_response(
        "202 Accepted",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]
