"""The domain rules that live on the models: visibility, status groups,
stored bytes, files by kind, and style validation without model choices."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError

from gallery.models import Artwork, validate_style
from tests.gallery.media_rows import make_artwork, make_photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(owner, other):
    photo = make_photo(owner)
    hidden = make_artwork(photo, public=True)
    Artwork.objects.filter(pk=hidden.pk).update(moderation=Artwork.Moderation.HIDDEN)
    return {
        "public": make_artwork(photo, public=True),
        "private": make_artwork(photo),
        "hidden": hidden,
        "queued": make_artwork(photo, public=True, status=Artwork.Status.QUEUED),
        "others": make_artwork(make_photo(other)),
    }


def test_public_and_visible_to(rows, owner, other):
    assert list(Artwork.objects.public()) == [rows["public"]]
    mine = set(Artwork.objects.visible_to(owner))
    assert mine == {rows[k] for k in ("public", "private", "hidden", "queued")}
    assert set(Artwork.objects.visible_to(other)) == {rows["public"], rows["others"]}
    assert list(Artwork.objects.visible_to(AnonymousUser())) == [rows["public"]]


def test_status_groups(rows):
    unfinished = set(Artwork.objects.unfinished())
    assert unfinished == {rows["queued"]}
    assert set(Artwork.objects.finished()) == set(Artwork.objects.all()) - unfinished
    assert rows["public"].is_finished and not rows["queued"].is_finished


def test_stored_bytes(rows):
    artwork = Artwork.objects.with_stored_bytes().get(pk=rows["public"].pk)
    assert artwork.stored_bytes == artwork.result_bytes + artwork.thumbnail_bytes > 0
    total = sum(a.result_bytes + a.thumbnail_bytes for a in Artwork.objects.all())
    assert Artwork.objects.stored_bytes() == total
    assert Artwork.objects.none().stored_bytes() == 0


def test_file_by_kind(rows):
    artwork = rows["public"]
    assert artwork.file("original") == artwork.photo.original
    assert artwork.file("result") == artwork.result
    assert artwork.file("thumbnail") == artwork.thumbnail
    with pytest.raises(ValueError):
        artwork.file("../etc/passwd")


def test_style_is_validated_by_the_registry_not_model_choices():
    validate_style("oil")
    with pytest.raises(ValidationError):
        validate_style("no-such-style")
    assert not Artwork._meta.get_field("style").choices
