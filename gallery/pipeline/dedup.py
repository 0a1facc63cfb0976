"""Identical recipes are rendered once.

The engine is deterministic: the same source bytes, style, parameters and
engine version give the same pixels. ``recipe_key`` names that combination;
a new artwork whose key matches a finished one of the same owner points at
the same result and thumbnail files instead of being rendered again. Shared
files are safe to delete only when no row references them any more (the
"files follow rows" cleanup takes care of that).

Reuse stays within one owner: an upload answered "done" at once would tell
its owner that someone else already uploaded the same photo. Moderation,
though, follows the content across owners: a recipe a moderator hid is born
hidden again, however it comes back (re-upload, remix, dedup, re-render).

A copy and a delete of its source must not interleave: the delete's
reference check could run before the copy commits and remove files the copy
then points at. So the source row is locked inside the copy's transaction
(``SELECT ... FOR NO KEY UPDATE``, which a DELETE waits for): a delete in
flight finishes first (and the row is skipped), or waits until the copy has
committed (and its reference check then keeps the shared files). SQLite's
IMMEDIATE transactions serialise the two anyway.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from redis.exceptions import LockError, RedisError
from rq import get_current_job

import processing
from gallery.models import Artwork


def recipe_key(content_hash: str, style: str, params: dict, engine_version: str) -> str:
    """sha256 over the source hash and the recipe, parameters sorted.

    The parameters are hashed in their canonical form (generic ones at their
    defaults left out), so recipes stored before ``strength`` and
    ``keep_colors`` existed keep their keys, and their results stay reusable.
    ``engine_version`` is the style's own version (``processing.style_version``).
    """
    try:
        params = processing.canonical_params(style, params)
    except ValueError:
        pass  # a recipe of a style or parameter the engine no longer has
    payload = json.dumps(
        [content_hash, style, params, engine_version],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def ensure_recipe_key(artwork: Artwork) -> str:
    """Compute and store the key of a row created without one (a remix)."""
    key = recipe_key(
        artwork.photo.content_hash,
        artwork.style,
        artwork.params,
        artwork.engine_version,
    )
    Artwork.objects.filter(pk=artwork.pk, recipe_key="").update(recipe_key=key)
    artwork.recipe_key = key
    return key


def find_done(
    key: str, owner_id: int, *, exclude_pk: int | None = None
) -> Artwork | None:
    """A finished artwork of this owner with this recipe whose files are
    recorded, locked until the caller's transaction ends (call it inside
    one)."""
    if not key:
        return None
    rows = (
        Artwork.objects.select_for_update(no_key=True)
        .filter(recipe_key=key, owner_id=owner_id, status=Artwork.Status.DONE)
        .exclude(Q(result="") | Q(thumbnail=""))
    )
    if exclude_pk is not None:
        rows = rows.exclude(pk=exclude_pk)
    for candidate in rows.only(
        "pk",
        "result",
        "thumbnail",
        "animation",
        "result_bytes",
        "thumbnail_bytes",
        "animation_bytes",
    )[:3]:
        # A file lost from storage must not be handed on to a new row.
        if candidate.result.storage.exists(candidate.result.name):
            return candidate
    return None


def moderation_of(key: str) -> dict:
    """``{"moderation": "hidden"}`` when a moderator hid this recipe's
    content anywhere, else nothing: the column values a new row of that
    content must carry."""
    hidden = Artwork.objects.filter(
        recipe_key=key, moderation=Artwork.Moderation.HIDDEN
    )
    return {"moderation": Artwork.Moderation.HIDDEN} if key and hidden.exists() else {}


def done_fields(source: Artwork) -> dict:
    """The column values that make a row a finished copy of ``source``."""
    now = timezone.now()
    return {
        "status": Artwork.Status.DONE,
        "result": source.result.name,
        "thumbnail": source.thumbnail.name,
        "animation": source.animation.name,
        "result_bytes": source.result_bytes,
        "thumbnail_bytes": source.thumbnail_bytes,
        "animation_bytes": source.animation_bytes,
        "error": "",
        "started_at": now,
        "finished_at": now,
    }


def reuse_result(artwork_id: int, owner_id: int, key: str) -> bool:
    """Finish an unfinished artwork with an identical done one's files."""
    with transaction.atomic():
        source = find_done(key, owner_id, exclude_pk=artwork_id)
        if source is None:
            return False
        changed = (
            Artwork.objects.filter(pk=artwork_id)
            .unfinished()
            .update(**done_fields(source), **moderation_of(key))
        )
    return bool(changed)


def initial_fields(
    owner_id: int, content_hash: str, style: str, params: dict, engine: str
) -> dict:
    """Extra columns for a new artwork: its key, its moderation when the
    content was hidden, and a finished copy's files when the owner already
    has the identical recipe done (then nothing is enqueued). Call inside the
    transaction that creates the row."""
    key = recipe_key(content_hash, style, params, engine)
    source = find_done(key, owner_id)
    return {
        "recipe_key": key,
        **moderation_of(key),
        **(done_fields(source) if source else {}),
    }


@contextlib.contextmanager
def recipe_lock(key: str) -> Iterator[bool]:
    """Hold a short Redis lock on a recipe while rendering it, so two workers
    never render the same one; yields True when another job held it first
    (the caller should then look for its finished result again).

    No lock outside a job (tests calling the job function directly), and
    none when Redis refuses: rendering twice is wasteful, never wrong.
    """
    job = get_current_job()
    if job is None or not key:
        yield False
        return
    # A video's job has a longer timeout than a photo's (queue.job_timeout).
    timeout = job.timeout or settings.STUDIO_JOB_TIMEOUT
    lock = job.connection.lock(
        f"studio:recipe-lock:{key}",
        timeout=timeout + 30,
        blocking_timeout=timeout,
    )
    waited = acquired = False
    try:
        acquired = lock.acquire(blocking=False)
        if not acquired:
            waited = True
            acquired = lock.acquire()
    except (LockError, RedisError):
        acquired = False
    try:
        yield waited and acquired
    finally:
        if acquired:
            try:
                lock.release()
            except (LockError, RedisError):
                pass  # expired: another job may already hold it
