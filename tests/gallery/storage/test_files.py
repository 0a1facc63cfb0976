"""Files follow rows: deletes remove files after commit, never shared ones."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.urls import reverse

from gallery import services
from gallery.models import Artwork, Photo
from gallery.pipeline import dedup
from tests.conftest import create_artworks, image_bytes, stored_files, upload_file
from tests.gallery.media_rows import make_artwork, make_photo, names_referenced

pytestmark = pytest.mark.django_db(transaction=True)


def test_deleting_last_artwork_removes_photo_and_every_file(owner, media_root):
    artwork = make_artwork(make_photo(owner))
    assert len(stored_files(media_root)) == 3

    services.artwork_delete(artwork)

    assert not Photo.objects.exists() and not Artwork.objects.exists()
    assert stored_files(media_root) == []


def test_deleting_one_of_two_artworks_keeps_photo_and_original(owner, media_root):
    photo = make_photo(owner)
    first, second = make_artwork(photo), make_artwork(photo, style="oil")

    services.artwork_delete(first)

    assert Photo.objects.filter(pk=photo.pk).exists()
    assert set(stored_files(media_root)) == {
        photo.original.name,
        second.result.name,
        second.thumbnail.name,
    }


def test_shared_result_files_survive_until_the_last_row_goes(owner, other, media_root):
    source = make_artwork(make_photo(owner))
    copy = make_artwork(make_photo(other), share_files_of=source)
    assert (copy.result.name, copy.thumbnail.name) == (
        source.result.name,
        source.thumbnail.name,
    )

    services.artwork_delete(source)

    files = set(stored_files(media_root))
    assert copy.result.name in files and copy.thumbnail.name in files
    with copy.result.open("rb") as handle:
        assert handle.read(2) == b"\xff\xd8"

    services.artwork_delete(copy)
    assert stored_files(media_root) == []


def test_rolled_back_delete_keeps_the_files(owner, media_root):
    artwork = make_artwork(make_photo(owner))
    pk = artwork.pk
    before = stored_files(media_root)

    with pytest.raises(RuntimeError), transaction.atomic():
        services.artwork_delete(artwork)
        raise RuntimeError("abort")

    assert Artwork.objects.filter(pk=pk).exists()
    assert stored_files(media_root) == before


def test_files_go_only_after_commit(owner, media_root):
    artwork = make_artwork(make_photo(owner))
    with transaction.atomic():
        Artwork.objects.filter(pk=artwork.pk).delete()
        # Still inside the transaction: another reader may yet see the row.
        assert artwork.result.name in stored_files(media_root)
    assert artwork.result.name not in stored_files(media_root)


def test_cascade_from_user_delete_removes_all_their_files(owner, other, media_root):
    for _ in range(2):
        photo = make_photo(owner)
        make_artwork(photo)
        make_artwork(photo, status=Artwork.Status.FAILED)
    kept = make_artwork(make_photo(other))

    owner.delete()

    assert set(stored_files(media_root)) == {
        kept.photo.original.name,
        kept.result.name,
        kept.thumbnail.name,
    }


def test_bulk_queryset_delete_removes_files_and_keeps_shared(owner, media_root):
    source = make_artwork(make_photo(owner))
    copies = [make_artwork(make_photo(owner), share_files_of=source) for _ in range(3)]
    alone = make_artwork(make_photo(owner))

    Artwork.objects.filter(pk__in=[source.pk, alone.pk, copies[0].pk]).delete()

    files = set(stored_files(media_root))
    assert source.result.name in files  # copies 1 and 2 still use it
    assert alone.result.name not in files and alone.thumbnail.name not in files
    assert names_referenced() <= files


def test_user_delete_view_keeps_a_deduplicated_twin(
    owner_client, other_client, queue, run_worker, media_root
):
    # The real pipeline: the same photo and recipe uploaded twice renders once
    # and the second artwork points at the first one's files.
    data = image_bytes(width=200, height=150)
    for client in (owner_client, owner_client):
        response = client.post(
            reverse("gallery:upload"),
            {"image": upload_file(data), "style": ["pencil"]},
        )
        assert response.status_code == 302
        run_worker()
    first, second = Artwork.objects.order_by("pk")
    assert first.status == second.status == Artwork.Status.DONE
    assert first.result.name == second.result.name

    response = owner_client.post(reverse("gallery:artwork_delete", args=[first.pk]))
    assert response.status_code == 302

    response = owner_client.get(
        reverse("gallery:artwork_media", args=[second.pk, "result"])
    )
    assert response.status_code == 200
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    assert names_referenced() == set(stored_files(media_root))


def test_copy_of_a_result_being_deleted_never_points_at_a_removed_file(
    owner, other, media_root, queue, run_worker, monkeypatch
):
    """A delete of a done artwork is held before its commit while an upload
    of the same recipe looks for a finished copy. Whatever the order, the
    new row must not end up naming files the delete has removed."""
    data = image_bytes(width=200, height=150)

    (source,) = create_artworks(owner, data=data)
    run_worker()
    source.refresh_from_db()
    assert source.status == Artwork.Status.DONE

    deleting, release_delete = threading.Event(), threading.Event()
    found, release_copy = threading.Event(), threading.Event()
    find_done = dedup.find_done

    def held_find_done(key, owner_id, **kwargs):
        candidate = find_done(key, owner_id, **kwargs)
        found.set()
        assert release_copy.wait(20)
        return candidate

    def delete() -> None:
        try:
            with transaction.atomic():
                Artwork.objects.filter(pk=source.pk).delete()
                deleting.set()
                assert release_delete.wait(20)
        finally:
            connection.close()

    created: list = []

    def copy() -> None:
        try:
            created.extend(create_artworks(owner, data=data))
        finally:
            connection.close()

    monkeypatch.setattr(dedup, "find_done", held_find_done)
    deleter = threading.Thread(target=delete)
    deleter.start()
    assert deleting.wait(20)
    copier = threading.Thread(target=copy)
    copier.start()
    # Unprotected, the copy reads the doomed row here, before the delete
    # commits and runs its reference check.
    found.wait(2)
    release_delete.set()
    deleter.join(30)
    release_copy.set()
    copier.join(30)

    (artwork,) = created
    artwork.refresh_from_db()
    assert artwork.status == Artwork.Status.QUEUED  # rendered afresh, not copied
    assert names_referenced() <= set(stored_files(media_root))
    run_worker()
    artwork.refresh_from_db()
    assert artwork.status == Artwork.Status.DONE
    with artwork.result.open("rb") as handle:
        assert handle.read(2) == b"\xff\xd8"
