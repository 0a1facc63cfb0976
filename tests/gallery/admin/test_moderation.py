"""Reports from the gallery, and what hiding an artwork does."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse

import processing
from gallery import services
from gallery.models import Artwork, Report
from tests.conftest import create_artworks, image_bytes
from tests.gallery.media_rows import make_artwork, make_photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared(owner):
    return make_artwork(make_photo(owner), public=True)


def report(client, artwork, reason="Spam", **headers):
    return client.post(
        reverse("gallery:artwork_report", args=[artwork.pk]),
        {"reason": reason},
        **headers,
    )


def test_report_is_recorded_and_flags_the_artwork(other_client, other, shared):
    response = report(other_client, shared, "Stolen photo")
    assert response.status_code == 302
    assert response["Location"] == shared.get_absolute_url()
    (row,) = Report.objects.all()
    assert (row.artwork_id, row.reporter_id, row.reason) == (
        shared.pk,
        other.pk,
        "Stolen photo",
    )
    assert Artwork.objects.get(pk=shared.pk).moderation == Artwork.Moderation.REPORTED


def test_second_report_by_the_same_user_updates_the_reason(other_client, shared):
    report(other_client, shared, "Spam")
    report(other_client, shared, "Actually: stolen")
    assert list(Report.objects.values_list("reason", flat=True)) == ["Actually: stolen"]


def test_owner_cannot_report_their_own_artwork(owner_client, shared):
    response = report(owner_client, shared, follow=True)
    assert "You cannot report your own artwork." in response.content.decode()
    assert not Report.objects.exists()
    response = report(owner_client, shared, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "You cannot report your own artwork."


def test_report_json_answers(other_client, client, shared):
    ok = report(other_client, shared, HTTP_ACCEPT="application/json")
    assert ok.status_code == 200 and ok.json() == {"reported": True}
    empty = report(other_client, shared, "  ", HTTP_ACCEPT="application/json")
    assert empty.status_code == 400 and empty.json()["field"] == "reason"
    anonymous = report(client, shared, HTTP_ACCEPT="application/json")
    assert anonymous.status_code == 401
    assert report(client, shared).status_code == 302  # to the login page
    assert Report.objects.count() == 1


@pytest.mark.parametrize("state", ["private", "hidden", "queued"])
def test_only_what_others_can_see_can_be_reported(other_client, owner, state):
    artwork = make_artwork(make_photo(owner), public=state != "private")
    if state == "hidden":
        services.artwork_set_moderation(artwork, Artwork.Moderation.HIDDEN)
    if state == "queued":
        Artwork.objects.filter(pk=artwork.pk).update(status=Artwork.Status.QUEUED)
    assert report(other_client, artwork).status_code == 404
    assert not Report.objects.exists()


def test_reporting_does_not_unhide(owner, other, shared):
    services.artwork_set_moderation(shared, Artwork.Moderation.HIDDEN)
    services.artwork_report(shared, other, "again")
    assert Artwork.objects.get(pk=shared.pk).moderation == Artwork.Moderation.HIDDEN


def test_reported_then_hidden_then_unhidden(
    admin_client, admin_user, owner_client, other_client, shared
):
    client = Client()  # anonymous (owner_client is the "client" fixture)
    report(other_client, shared, "Offensive")
    reported = admin_client.get(
        reverse("admin:gallery_artwork_changelist") + "?moderation__exact=reported"
    )
    assert [a.pk for a in reported.context["cl"].result_list] == [shared.pk]
    # Reported but not yet hidden: still public.
    assert shared in other_client.get(reverse("gallery:explore")).context["page"]

    admin_client.post(
        reverse("admin:gallery_artwork_changelist"),
        {"action": "hide_selected", ACTION_CHECKBOX_NAME: [shared.pk]},
    )
    assert LogEntry.objects.filter(user=admin_user, object_id=str(shared.pk)).exists()

    # Gone for everyone else: lists, page, files, API.
    for c in (other_client, client):
        assert shared not in c.get(reverse("gallery:explore")).context["page"]
        assert shared not in c.get(reverse("gallery:home")).context["latest"]
        assert c.get(shared.get_absolute_url()).status_code == 404
        for kind in ("result", "thumbnail"):
            url = reverse("gallery:artwork_media", args=[shared.pk, kind])
            assert c.get(url).status_code == 404
    api = reverse("gallery:api_artwork", args=[shared.pk])
    assert other_client.get(api).status_code == 404
    assert client.get(api).status_code == 401
    # The owner still sees it, with the notice.
    page = owner_client.get(shared.get_absolute_url())
    assert page.status_code == 200
    assert "Hidden by a moderator." in page.content.decode()
    assert owner_client.get(api).status_code == 200

    admin_client.post(
        reverse("admin:gallery_artwork_changelist"),
        {"action": "unhide_selected", ACTION_CHECKBOX_NAME: [shared.pk]},
    )
    assert shared in client.get(reverse("gallery:explore")).context["page"]
    owner_page = owner_client.get(shared.get_absolute_url()).content.decode()
    assert "Hidden by a moderator." not in owner_page


# Moderation follows the content ----------------------------------------------


@pytest.fixture
def hidden_done(owner, queue, run_worker):
    """A rendered artwork of ``owner`` that a moderator then hid."""
    (artwork,) = create_artworks(owner, data=PHOTO)
    run_worker()
    artwork.refresh_from_db()
    assert services.artwork_set_moderation(artwork, Artwork.Moderation.HIDDEN)
    return artwork


PHOTO = image_bytes(width=120, height=90)


@pytest.mark.django_db(transaction=True)
def test_hidden_content_comes_back_hidden(owner, other, hidden_done, queue, run_worker):
    # The owner uploads the same photo and recipe again (a dedup copy)...
    (again,) = create_artworks(owner, data=PHOTO)
    # ... or remixes the photo into the same recipe ...
    (remix,) = services.artworks_create_from_photo(
        owner,
        hidden_done.photo,
        [services.Recipe("pencil", processing.validate_params("pencil", {}))],
    )
    # ... or someone else renders the very same pixels.
    (elsewhere,) = create_artworks(other, data=PHOTO)
    run_worker()
    for artwork in (again, remix, elsewhere):
        artwork.refresh_from_db()
        assert artwork.status == Artwork.Status.DONE
        assert artwork.moderation == Artwork.Moderation.HIDDEN, artwork
        services.artwork_set_public(artwork, True)
    assert not Artwork.objects.public().exists()


@pytest.mark.django_db(transaction=True)
def test_hiding_one_hides_every_artwork_of_that_content(
    owner, other, queue, run_worker
):
    (mine,) = create_artworks(owner, data=PHOTO)
    (theirs,) = create_artworks(other, data=PHOTO)
    run_worker()
    for artwork in (mine, theirs):
        services.artwork_set_public(artwork, True)
    assert Artwork.objects.public().count() == 2
    services.artwork_set_moderation(mine, Artwork.Moderation.HIDDEN)
    assert not Artwork.objects.public().exists()
    services.artwork_set_moderation(mine, Artwork.Moderation.VISIBLE)
    assert Artwork.objects.public().count() == 2
