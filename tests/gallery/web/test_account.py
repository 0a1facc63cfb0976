"""The account page and its API: profile, password, export of everything,
deleting the account (no row and no file left, sessions and tokens ended,
logged for admins), password reset by email, sign-up with an optional email."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.files.storage import default_storage
from django.test import Client

from gallery import presets, sharing
from gallery.models import ApiToken, Artwork, Photo, Preset, Profile, Report, ShareLink
from tests.conftest import PASSWORD, create_artworks, stored_files

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def rich_owner(owner, other, queue, run_worker):
    """The owner with two photos, three artworks (one failed), a preset, a
    share link, a token and a report on someone else's artwork."""
    first = create_artworks(owner, ("pencil", "oil"))
    second = create_artworks(owner, ("cartoon",))
    (theirs,) = create_artworks(other, ("watercolor",))
    run_worker()
    failed = Artwork.objects.get(pk=second[0].pk)
    default_storage.delete(failed.result.name)
    Artwork.objects.filter(pk=failed.pk).update(status="failed", result="")
    Artwork.objects.filter(pk=theirs.pk).update(public=True)
    presets.preset_create(owner, "Mine", "oil", {"size": 4})
    sharing.share_create(Artwork.objects.get(pk=first[0].pk), 30)
    Report.objects.create(artwork=theirs, reporter=owner, reason="test")
    Profile.objects.create(user=owner, display_name="Ada L.")
    return owner


def test_profile_and_password(owner_client, owner):
    response = owner_client.post(
        "/account/profile/", {"display_name": "Ada L.", "email": "ada@example.com"}
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.email == "ada@example.com"
    assert owner.studio_profile.display_name == "Ada L."
    bad = owner_client.post("/account/profile/", {"email": "not-an-address"})
    assert bad.status_code == 400
    response = owner_client.post(
        "/account/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "another-long-password-77",
            "new_password2": "another-long-password-77",
        },
    )
    assert response.status_code == 302
    assert owner_client.get("/account/").status_code == 200  # still signed in
    owner.refresh_from_db()
    assert owner.check_password("another-long-password-77")
    wrong = owner_client.post(
        "/account/password/",
        {"old_password": "nope", "new_password1": "x", "new_password2": "x"},
    )
    assert wrong.status_code == 400


def test_account_pages_need_a_session(client):
    for url in ("/account/", "/presets/"):
        response = client.get(url)
        assert (
            response.status_code == 302 and "/accounts/login/" in response["Location"]
        )
    assert client.get("/api/account/export.zip").status_code == 401
    assert (
        client.post("/api/account/delete/", {"password": PASSWORD}).status_code == 401
    )


def test_export_contains_every_file_it_lists(owner_client, rich_owner, other):
    response = owner_client.get("/api/account/export.zip")
    assert response.status_code == 200 and response.streaming
    assert "attachment" in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.testzip() is None
    document = json.loads(archive.read("account.json"))
    assert document["account"]["username"] == "ada"
    assert document["account"]["display_name"] == "Ada L."
    assert len(document["photos"]) == 2 and len(document["artworks"]) == 3
    assert [p["name"] for p in document["presets"]] == ["Mine"]
    assert len(document["share_links"]) == 1
    assert document["share_links"][0]["url"].startswith("http://testserver/s/")
    listed = [p["file"] for p in document["photos"]] + [
        a["file"] for a in document["artworks"] if a["file"]
    ]
    assert len(listed) == 4  # the failed artwork has no result
    names = set(archive.namelist())
    assert set(listed) <= names and names == {*listed, "account.json"}
    photos = {p.pk: p for p in Photo.objects.filter(owner=rich_owner)}
    for entry in document["photos"]:
        assert (
            archive.read(entry["file"])
            == photos[entry["id"]].original.open("rb").read()
        )
    for entry in document["artworks"]:
        if entry["file"]:
            assert entry["file"].startswith(f"results/{entry['style']}-{entry['id']}")
    # Nothing of the other user's.
    assert not any(
        str(other.pk) == str(a.get("photo")) for a in document["artworks"] if False
    )
    assert all(
        a["id"]
        in set(Artwork.objects.filter(owner=rich_owner).values_list("pk", flat=True))
        for a in document["artworks"]
    )


def test_delete_account_leaves_no_row_and_no_file(
    owner_client, rich_owner, other, media_root
):
    other_files = {
        name
        for a in Artwork.objects.filter(owner=other)
        for name in (
            a.photo.original.name,
            a.photo.preview_proxy.name,
            a.result.name,
            a.thumbnail.name,
        )
        if name
    }
    token = owner_client.post("/api/tokens/", {"name": "s", "scope": "write"}).json()
    second_session = Client()
    second_session.force_login(rich_owner)
    wrong = owner_client.post("/api/account/delete/", {"password": "wrong"})
    assert wrong.status_code == 400 and wrong.json()["field"] == "password"
    assert get_user_model().objects.filter(pk=rich_owner.pk).exists()

    response = owner_client.post("/api/account/delete/", {"password": PASSWORD})
    assert response.status_code == 204
    user_id = rich_owner.pk
    assert not get_user_model().objects.filter(pk=user_id).exists()
    for model, field in [
        (Photo, "owner_id"), (Artwork, "owner_id"), (Preset, "owner_id"),
        (ApiToken, "user_id"), (Profile, "user_id"), (Report, "reporter_id"),
    ]:  # fmt: skip
        assert not model.objects.filter(**{field: user_id}).exists(), model
    assert not ShareLink.objects.exists()
    # Every file of the deleted account is gone; the other user's remain.
    assert set(stored_files(media_root)) == other_files
    # Sessions and tokens ended at once.
    assert owner_client.get("/api/presets/").status_code == 401
    assert second_session.get("/api/presets/").status_code == 401
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {token['token']}")
    assert bearer.get("/api/presets/").status_code == 401
    # Admins see it in the action log.
    entry = LogEntry.objects.get(object_id=str(user_id), action_flag=DELETION)
    assert entry.object_repr == "ada" and "3 artworks" in entry.change_message
    assert entry.user.username == "(studio)" and not entry.user.is_active


def test_delete_account_from_the_page_shows_a_confirmation(owner_client, rich_owner):
    page = owner_client.post("/account/delete/", {"password": "wrong"})
    assert page.status_code == 400 and b"not correct" in page.content
    response = owner_client.post("/account/delete/", {"password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/account/deleted/"
    confirmation = owner_client.get("/account/deleted/")
    assert confirmation.status_code == 200
    assert b'data-role="account-deleted"' in confirmation.content
    assert b"2 photos" in confirmation.content
    assert not get_user_model().objects.filter(username="ada").exists()
    # Shown once: a reload (or anyone else) goes home.
    assert owner_client.get("/account/deleted/").status_code == 302


def test_admin_sees_the_deletion_in_the_log(
    owner_client, rich_owner, django_user_model
):
    owner_client.post("/api/account/delete/", {"password": PASSWORD})
    admin = django_user_model.objects.create_superuser("root", password=PASSWORD)
    client = Client()
    client.force_login(admin)
    page = client.get("/admin/admin/logentry/")
    assert page.status_code == 200
    assert b"ada" in page.content


def test_password_attempts_to_delete_are_limited(
    owner_client, owner, steady_rate_window
):
    for _ in range(5):
        assert (
            owner_client.post("/api/account/delete/", {"password": "x"}).status_code
            == 400
        )
    limited = owner_client.post("/api/account/delete/", {"password": PASSWORD})
    assert limited.status_code == 429 and limited["Retry-After"]
    assert get_user_model().objects.filter(pk=owner.pk).exists()


def _reset(client, email):
    return client.post("/accounts/password_reset/", {"email": email})


def test_password_reset_by_email_without_revealing_accounts(client, owner):
    owner.email = "ada@example.com"
    owner.save()
    known = _reset(client, "ada@example.com")
    unknown = _reset(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == "/accounts/password_reset/done/"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ada@example.com"]
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body)
    page = client.get(link.group(1), follow=True)
    assert page.status_code == 200 and b"new password" in page.content.lower()
    form_url = page.redirect_chain[-1][0]
    done = client.post(
        form_url,
        {
            "new_password1": "reset-password-9876",
            "new_password2": "reset-password-9876",
        },
    )
    assert done.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("reset-password-9876")


def test_password_reset_is_rate_limited_for_any_address(
    client, settings, steady_rate_window
):
    settings.STUDIO_PASSWORD_RESET_RATE = 2
    assert _reset(client, "a@example.com").status_code == 302
    assert _reset(client, "b@example.com").status_code == 302
    limited = _reset(client, "c@example.com")
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert mail.outbox == []


def test_reset_mails_per_address_are_capped(settings, owner):
    settings.STUDIO_PASSWORD_RESET_RATE = 100
    owner.email = "ada@example.com"
    owner.save()
    statuses = [_reset(Client(), "ada@example.com").status_code for _ in range(4)]
    assert statuses == [302, 302, 302, 429]
    assert len(mail.outbox) == 3


def test_password_reset_pages_in_chinese(client):
    client.cookies["django_language"] = "zh-hans"
    page = client.get("/accounts/password_reset/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200
    assert "重置" in page.content.decode()
    login = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert b"/accounts/password_reset/" in login.content


def test_sign_up_takes_an_optional_email(client):
    for username, email in (("with-mail", "m@example.com"), ("without", "")):
        response = Client().post(
            "/accounts/signup/",
            {
                "username": username,
                "email": email,
                "password1": PASSWORD,
                "password2": PASSWORD,
            },
        )
        assert response.status_code == 302, response.content
        assert get_user_model().objects.get(username=username).email == email
    bad = client.post(
        "/accounts/signup/",
        {
            "username": "bad",
            "email": "nope",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert (
        bad.status_code == 200
        and not get_user_model().objects.filter(username="bad").exists()
    )
