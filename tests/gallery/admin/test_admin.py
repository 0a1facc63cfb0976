"""The admin panel: pages render with data, every action works and is logged."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.test import Client
from django.urls import reverse

from gallery.models import Artwork, Photo, Profile, Report
from tests.conftest import stored_files
from tests.gallery.media_rows import make_artwork, make_photo, names_referenced

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def data(owner, other):
    photo = make_photo(owner)
    done = make_artwork(photo, public=True)
    failed = make_artwork(
        photo, status=Artwork.Status.FAILED, error="The photo is damaged."
    )
    queued = make_artwork(make_photo(owner), status=Artwork.Status.QUEUED)
    Report.objects.create(artwork=done, reporter=other, reason="Offensive text")
    Artwork.objects.filter(pk=done.pk).update(moderation=Artwork.Moderation.REPORTED)
    Profile.objects.create(user=owner, display_name="Ada L.", max_photos=9)
    return {"photo": photo, "done": done, "failed": failed, "queued": queued}


def run_action(client, action: str, artworks, **extra):
    return client.post(
        reverse("admin:gallery_artwork_changelist"),
        {
            "action": action,
            ACTION_CHECKBOX_NAME: [a.pk for a in artworks],
            **extra,
        },
        follow=True,
    )


@pytest.mark.parametrize(
    "url_name, query",
    [
        ("admin:gallery_artwork_changelist", ""),
        ("admin:gallery_artwork_changelist", "?moderation__exact=reported"),
        ("admin:gallery_artwork_changelist", "?status__exact=failed&reports=no"),
        ("admin:gallery_artwork_changelist", "?reports=yes&q=ada"),
        ("admin:gallery_artwork_changelist", "?o=-10"),  # by size on disk
        ("admin:gallery_photo_changelist", ""),
        ("admin:gallery_photo_changelist", "?q=photo.jpg&o=-7"),
        ("admin:gallery_report_changelist", ""),
        ("admin:gallery_profile_changelist", ""),
        ("admin:auth_user_changelist", ""),
        ("admin:index", ""),
        ("admin:gallery_dashboard", ""),
    ],
)
def test_changelists_render_with_data(admin_client, data, url_name, query):
    response = admin_client.get(reverse(url_name) + query)
    assert response.status_code == 200


def test_reported_filter_shows_count_and_reason(admin_client, data):
    response = admin_client.get(
        reverse("admin:gallery_artwork_changelist") + "?moderation__exact=reported"
    )
    page = response.content.decode()
    assert response.context["cl"].result_count == 1
    assert '<td class="field-report_count">1</td>' in page
    change = admin_client.get(
        reverse("admin:gallery_artwork_change", args=[data["done"].pk])
    )
    assert "Offensive text" in change.content.decode()


def test_change_pages_render_with_thumbnails(admin_client, data, owner, other):
    done = data["done"]
    thumb_url = reverse("admin:gallery_artwork_file", args=[done.pk, "thumbnail"])
    listing = admin_client.get(reverse("admin:gallery_artwork_changelist"))
    assert thumb_url in listing.content.decode()
    change = admin_client.get(reverse("admin:gallery_artwork_change", args=[done.pk]))
    assert change.status_code == 200 and thumb_url in change.content.decode()
    for name, pk in [
        ("admin:gallery_artwork_change", data["failed"].pk),
        ("admin:gallery_artwork_change", data["queued"].pk),
        ("admin:gallery_photo_change", data["photo"].pk),
        ("admin:gallery_report_change", Report.objects.get().pk),
        ("admin:gallery_profile_change", Profile.objects.get().pk),
        ("admin:auth_user_change", owner.pk),
        ("admin:auth_user_change", other.pk),  # no profile row yet
    ]:
        assert admin_client.get(reverse(name, args=[pk])).status_code == 200, name
    photo_list = admin_client.get(reverse("admin:gallery_photo_changelist"))
    assert thumb_url in photo_list.content.decode()


def test_admin_file_view_serves_private_files_to_staff_only(admin_client, client, data):
    url = reverse("admin:gallery_artwork_file", args=[data["done"].pk, "result"])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    original = reverse("admin:gallery_photo_original", args=[data["photo"].pk])
    assert admin_client.get(original).status_code == 200
    # An ordinary signed-in user is sent to the admin login, never the file.
    client.force_login(data["done"].owner)
    assert client.get(url).status_code == 302
    assert admin_client.get(url.replace("result", "secret")).status_code == 404


def test_read_only_fields_cannot_be_changed(admin_client, data):
    done = data["done"]
    url = reverse("admin:gallery_artwork_change", args=[done.pk])
    response = admin_client.post(
        url,
        {
            "public": "",
            "status": "queued",
            "moderation": "hidden",
            "result": "elsewhere.jpg",
            "reports-TOTAL_FORMS": "1",
            "reports-INITIAL_FORMS": "1",
            "reports-MIN_NUM_FORMS": "0",
            "reports-MAX_NUM_FORMS": "1000",
            "reports-0-id": str(Report.objects.get().pk),
            "reports-0-artwork": str(done.pk),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    fresh = Artwork.objects.get(pk=done.pk)
    assert fresh.public is False  # the one editable field
    assert fresh.status == Artwork.Status.DONE
    assert fresh.moderation == Artwork.Moderation.REPORTED
    assert fresh.result.name == done.result.name


def test_hide_and_unhide_actions_are_logged(admin_client, admin_user, data):
    done = data["done"]
    response = run_action(admin_client, "hide_selected", [done])
    assert response.status_code == 200
    assert Artwork.objects.get(pk=done.pk).moderation == Artwork.Moderation.HIDDEN
    entry = LogEntry.objects.get(object_id=str(done.pk), action_flag=CHANGE)
    assert entry.user == admin_user and entry.action_time
    assert "Hidden" in entry.get_change_message()

    run_action(admin_client, "unhide_selected", [done])
    assert Artwork.objects.get(pk=done.pk).moderation == Artwork.Moderation.VISIBLE
    assert LogEntry.objects.filter(object_id=str(done.pk)).count() == 2


def test_rerender_action_queues_through_the_normal_queue(
    admin_client, admin_user, data, queue, run_worker, media_root
):
    done, queued = data["done"], data["queued"]
    old_result = done.result.name
    response = run_action(admin_client, "rerender_selected", [done, queued])
    assert "1 artwork(s) queued again; 1 skipped" in response.content.decode()
    done.refresh_from_db()
    assert done.status == Artwork.Status.QUEUED and not done.result
    assert old_result not in stored_files(media_root)  # nobody shared it
    assert LogEntry.objects.filter(
        object_id=str(done.pk), action_flag=CHANGE, user=admin_user
    ).exists()
    # The queued artwork was not reset (the fair queue may have put it on
    # the render queue: it was the owner's oldest waiting artwork).
    left = Artwork.objects.get(pk=queued.pk)
    assert left.status == Artwork.Status.QUEUED and left.queued_at == queued.queued_at

    run_worker()

    done.refresh_from_db()
    assert done.status == Artwork.Status.DONE, done.error
    assert done.result_bytes == done.result.size > 0
    assert done.thumbnail_bytes == done.thumbnail.size > 0


def test_delete_selected_removes_rows_files_and_is_logged(
    admin_client, admin_user, data, media_root
):
    done, failed = data["done"], data["failed"]
    original = data["photo"].original.name
    confirm = run_action(admin_client, "delete_selected", [done, failed])
    assert confirm.status_code == 200
    assert b"Are you sure" in confirm.content
    response = run_action(admin_client, "delete_selected", [done, failed], post="yes")
    assert response.status_code == 200
    assert not Artwork.objects.filter(pk__in=[done.pk, failed.pk]).exists()
    # Their photo had no other artwork: it went too, with its original.
    assert not Photo.objects.filter(pk=data["photo"].pk).exists()
    assert original not in stored_files(media_root)
    assert set(stored_files(media_root)) == names_referenced()
    assert LogEntry.objects.filter(action_flag=DELETION, user=admin_user).count() == 2


def test_purge_failed_action_deletes_only_failed_and_logs(
    admin_client, admin_user, data, media_root
):
    selected = [data["done"], data["failed"], data["queued"]]
    response = run_action(admin_client, "purge_failed_selected", selected)
    assert "1 failed artwork purged" in response.content.decode()
    assert list(Artwork.objects.order_by("pk").values_list("pk", flat=True)) == [
        data["done"].pk,
        data["queued"].pk,
    ]
    assert LogEntry.objects.get(action_flag=DELETION).object_id == str(
        data["failed"].pk
    )
    assert set(stored_files(media_root)) == names_referenced()


def test_dashboard_shows_storage_statuses_queue_and_failures(
    admin_client, data, owner, queue
):
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:gallery_dashboard") in index
    response = admin_client.get(reverse("admin:gallery_dashboard"))
    context = response.context
    expected_total = (
        sum(Photo.objects.values_list("byte_size", flat=True))
        + data["done"].result_bytes
        + data["done"].thumbnail_bytes
    )
    assert context["storage"]["total"] == expected_total
    assert [u.pk for u in context["top_users"]] == [owner.pk]
    assert dict((v, n) for v, _l, n in context["statuses"]) == {
        "queued": 1,
        "processing": 0,
        "done": 1,
        "failed": 1,
    }
    assert context["queue"]["ok"] is True
    assert context["failed_count"] == 1
    page = response.content.decode()
    assert "The photo is damaged." in page
    assert reverse("django_rq:workers", args=[0]) in page


def test_dashboard_survives_redis_being_down(admin_client, data, settings):
    settings.RQ_QUEUES = {
        settings.STUDIO_QUEUE: {
            "URL": "redis://127.0.0.1:1/0?socket_connect_timeout=1",
            "DEFAULT_TIMEOUT": 60,
        }
    }
    response = admin_client.get(reverse("admin:gallery_dashboard"))
    assert response.status_code == 200
    assert response.context["queue"]["ok"] is False
    assert "Redis is not reachable" in response.content.decode()


def test_quota_override_is_editable_in_the_admin(admin_client, other):
    url = reverse("admin:gallery_profile_add")
    response = admin_client.post(
        url, {"user": other.pk, "display_name": "", "max_photos": "3", "max_bytes": ""}
    )
    assert response.status_code == 302
    assert Profile.objects.get(user=other).max_photos == 3


@pytest.mark.parametrize(
    "path", ["/admin/rq/", "/admin/rq/queues/0/", "/admin/rq/workers/0/"]
)
def test_rq_pages_are_for_superusers_only(path, django_user_model, admin_client):
    moderator = django_user_model.objects.create_user(
        "mod", password="a-long-test-password-42", is_staff=True
    )
    staff = Client()
    staff.force_login(moderator)
    response = staff.get(path)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert admin_client.get(path).status_code == 200
