"""The dashboard's figures: storage, statuses, moderation, the queue and
recent failures. Redis being down shows as such instead of an error page."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django_rq.settings import get_queues_list
from redis.exceptions import RedisError
from rq import Worker
from rq.registry import FailedJobRegistry, StartedJobRegistry

from gallery import limits
from gallery.models import Artwork, Photo
from gallery.pipeline.queue import get_queue
from gallery.storage import retention

User = get_user_model()


def dashboard_figures(top: int = 10) -> dict:
    """Storage, statuses, moderation, queue and recent failures, for the
    dashboard. Redis being down shows as such instead of an error page."""
    photo_bytes = Photo.objects.aggregate(total=Sum("byte_size"))["total"] or 0
    artwork_bytes = Artwork.objects.stored_bytes()
    photos_of = (
        Photo.objects.filter(owner=OuterRef("pk"))
        .values("owner")
        .annotate(total=Sum("byte_size"))
        .values("total")
    )
    artworks_of = (
        Artwork.objects.filter(owner=OuterRef("pk"))
        .values("owner")
        .annotate(total=Sum(Artwork.STORED_BYTES))
        .values("total")
    )
    top_users = list(
        User.objects.annotate(
            photo_bytes=Coalesce(Subquery(photos_of), Value(0)),
            artwork_bytes=Coalesce(Subquery(artworks_of), Value(0)),
        )
        .annotate(stored=F("photo_bytes") + F("artwork_bytes"))
        .filter(stored__gt=0)
        .order_by("-stored")[:top]
    )
    for user in top_users:
        user.quota = limits.usage_for(user)
    by_status = dict(
        Artwork.objects.values_list("status").annotate(n=Count("pk")).order_by()
    )
    statuses = [
        (value, label, by_status.get(value, 0))
        for value, label in Artwork.Status.choices
    ]
    by_moderation = dict(
        Artwork.objects.values_list("moderation").annotate(n=Count("pk")).order_by()
    )
    moderation = [
        (value, label, by_moderation.get(value, 0))
        for value, label in Artwork.Moderation.choices
    ]
    since = timezone.now() - timedelta(days=1)
    failed_recent = Artwork.objects.filter(
        status=Artwork.Status.FAILED, finished_at__gte=since
    )
    failure_reasons = list(
        failed_recent.values("error").annotate(n=Count("pk")).order_by("-n")[:10]
    )
    return {
        "storage": {
            "originals": photo_bytes,
            "artworks": artwork_bytes,
            "total": photo_bytes + artwork_bytes,
            "photos": Photo.objects.count(),
        },
        "top_users": top_users,
        "statuses": statuses,
        "moderation": moderation,
        "failed_count": failed_recent.count(),
        "failure_reasons": failure_reasons,
        "failed_recent": failed_recent.select_related("owner").order_by("-finished_at")[
            :20
        ],
        "queue": queue_figures(),
        "retention": {
            "days": retention.configured_ages()[0],
            "failed_days": retention.configured_ages()[1],
        },
    }


def queue_figures() -> dict:
    queue = get_queue()
    names = [config["name"] for config in get_queues_list()]
    index = names.index(queue.name) if queue.name in names else 0
    try:
        links = {
            "home": reverse("django_rq:home"),
            "jobs": reverse("django_rq:jobs", args=[index]),
            "workers": reverse("django_rq:workers", args=[index]),
            "failed": reverse("django_rq:failed_jobs", args=[index]),
        }
    except NoReverseMatch:  # django-rq's pages are not mounted
        links = {}
    try:
        return {
            "ok": True,
            "name": queue.name,
            "queued": queue.count,
            "started": StartedJobRegistry(queue=queue).count,
            "failed": FailedJobRegistry(queue=queue).count,
            "workers": Worker.count(queue=queue),
            "links": links,
        }
    except RedisError as exc:
        return {"ok": False, "name": queue.name, "error": str(exc), "links": links}
