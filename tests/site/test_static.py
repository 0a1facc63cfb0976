"""Static files: WhiteNoise serves hashed names with immutable caching."""

from __future__ import annotations

import re

import pytest
from django.templatetags.static import static


@pytest.mark.django_db
def test_pages_link_hashed_css(client):
    html = client.get("/").content.decode()
    match = re.search(r'href="(/static/css/studio\.[0-9a-f]{12}\.css)"', html)
    assert match, "the page should link the hashed stylesheet"


def test_hashed_css_served_immutable(client):
    url = static("css/studio.css")
    assert re.fullmatch(r"/static/css/studio\.[0-9a-f]{12}\.css", url)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    cache = response["Cache-Control"]
    assert "immutable" in cache and "max-age=315360000" in cache
    body = b"".join(response.streaming_content)
    assert b"--accent" in body
