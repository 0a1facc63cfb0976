"""My gallery's selection: the ticked artworks, downloaded as one ZIP.

The page's checkboxes submit ``artwork=<id>`` once per tick (no script
needed); this view turns them into the API's ``?ids=1,2,3`` and sends the
browser there, where the ZIP is checked and streamed.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from gallery.models import pk_from


@login_required
@require_GET
def gallery_download(request: HttpRequest) -> HttpResponse:
    ids = [str(pk) for pk in map(pk_from, request.GET.getlist("artwork")) if pk]
    if not ids:
        messages.error(request, _("Tick at least one finished artwork to download."))
        return redirect("gallery:my_gallery")
    query = urlencode({"ids": ",".join(dict.fromkeys(ids))}, safe=",")
    return redirect(f"{reverse('gallery:api_artworks_zip')}?{query}")
