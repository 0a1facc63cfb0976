"""Share links and ZIP downloads in the JSON API.

``POST /api/artworks/<id>/share/`` makes a new link each time;
``DELETE`` ends every link of the artwork. ``GET /api/artworks/download.zip``
streams the chosen results with a ``recipes.json``.
"""

from __future__ import annotations

from django.http import HttpRequest, StreamingHttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import Form, Query, Router, Schema, Status

from gallery import archives, sharing
from gallery.models import Artwork, pk_from
from gallery.web.api_auth import ErrorOut, members
from gallery.web.refusals import json_error
from gallery.web.shared import share_url

router = Router(tags=["sharing and downloads"])

#: Artworks one ZIP may hold (each id is one row to check and one file).
MAX_ZIP_IDS = 500
ZIP = {
    "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}
}
SIGN_IN = gettext_lazy("Sign in to share and download your artworks.")


class ShareOut(Schema):
    url: str
    expires: str


def _own_artwork(request: HttpRequest, pk: int) -> Artwork | None:
    return Artwork.objects.filter(owner_id=request.user.pk, pk=pk).first()


@router.post(
    "/artworks/{int:pk}/share/",
    url_name="api_artwork_share",
    response={
        201: ShareOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
    },
    auth=members(SIGN_IN),
    operation_id="createShareLink",
    summary="A new share link to one of your done artworks",
)
def api_share_create(
    request: HttpRequest,
    pk: int,
    expires_in_days: Form[int] = sharing.DEFAULT_DAYS,
):
    """The link opens without signing in and shows the result, the recipe
    and your display name, never the original; it expires after
    ``expires_in_days`` (1-365, default 30)."""
    artwork = _own_artwork(request, pk)
    if artwork is None:
        return json_error(_("No such artwork."), status=404)
    try:
        link = sharing.share_create(artwork, expires_in_days)
    except sharing.ShareRefused as refusal:
        return json_error(refusal.message, refusal.field)
    return Status(
        201, {"url": share_url(request, link), "expires": link.expires.isoformat()}
    )


@router.delete(
    "/artworks/{int:pk}/share/",
    url_name="api_artwork_share",
    response={204: None, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    auth=members(SIGN_IN),
    operation_id="revokeShareLinks",
    summary="End every share link of one of your artworks, at once",
)
def api_share_revoke(request: HttpRequest, pk: int):
    artwork = _own_artwork(request, pk)
    if artwork is None:
        return json_error(_("No such artwork."), status=404)
    sharing.share_revoke_all(artwork)
    return Status(204, None)


def _parse_ids(raw: str) -> list[int] | None:
    ids = [pk_from(part) for part in raw.split(",")]
    if None in ids:
        return None
    return list(dict.fromkeys(ids))


@router.get(
    "/artworks/download.zip",
    url_name="api_artworks_zip",
    response={200: None, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut},
    auth=members(SIGN_IN),
    operation_id="downloadArtworks",
    summary="Several of your done artworks as one ZIP, with recipes.json",
    openapi_extra={"responses": {200: {"description": "ZIP", **ZIP}}},
)
def api_artworks_zip(request: HttpRequest, ids: Query[str]):
    """``ids``: comma-separated ids of your artworks (``?ids=1,2,3``). Any
    id that is not yours refuses the whole request (404); one of yours that
    is not done refuses it with 400 naming the id. Files are named
    ``<style>-<id>.<ext>``; the ZIP is streamed."""
    wanted = _parse_ids(ids)
    if not wanted:
        return json_error(_("ids must be artwork ids separated by commas."), "ids")
    if len(wanted) > MAX_ZIP_IDS:
        return json_error(
            _("At most %(max)d artworks per download.") % {"max": MAX_ZIP_IDS}, "ids"
        )
    found = Artwork.objects.filter(owner_id=request.user.pk, pk__in=wanted).in_bulk()
    if len(found) != len(wanted):
        return json_error(_("No such artwork."), status=404)
    chosen = [found[pk] for pk in wanted]
    for artwork in chosen:
        if artwork.status != Artwork.Status.DONE or not artwork.result:
            return json_error(
                _("Artwork %(id)d is not finished; leave it out or wait for it.")
                % {"id": artwork.pk},
                "ids",
            )
    response = StreamingHttpResponse(
        archives.artworks_zip(chosen), content_type="application/zip"
    )
    response["Content-Disposition"] = 'attachment; filename="artworks.zip"'
    response["Cache-Control"] = "private, no-store"
    return response
