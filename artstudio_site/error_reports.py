"""What error reports may show: nothing that holds a secret.

Django's ``SafeExceptionReporterFilter`` hides settings whose *name* looks
secret (KEY, PASS, TOKEN...). The studio's connection strings carry their
passwords inside values whose names do not (``DATABASE_URL``, ``REDIS_URL``,
``CACHE_URL``, ``RQ_QUEUES[...]["URL"]``, ``CACHES[...]["LOCATION"]``), and a
traceback's local variables may hold the same strings. This filter hides
those names too, and masks the password of any URL in settings, request
META and frame variables.
"""

from __future__ import annotations

import re
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

# scheme://user:password@host or scheme://:password@host
_URL_CREDENTIALS = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]*:[^/@\s]*@", re.I
)


def mask_url_credentials(value: Any, substitute: str) -> Any:
    """``value`` with the user:password part of every URL in it replaced,
    looking into strings, dicts, lists and tuples."""
    if type(value) is str:  # not lazy objects that only pretend to be one
        return _URL_CREDENTIALS.sub(lambda m: m["scheme"] + substitute + "@", value)
    if type(value) is dict:
        return {k: mask_url_credentials(v, substitute) for k, v in value.items()}
    if type(value) in (list, tuple):  # not namedtuples: their repr stays as is
        return type(value)(mask_url_credentials(v, substitute) for v in value)
    return value


class SecretHidingFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|URL|LOCATION|DSN",
        flags=re.I,
    )

    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        return mask_url_credentials(cleansed, self.cleansed_substitute)

    def get_safe_request_meta(self, request):
        meta = super().get_safe_request_meta(request)
        return mask_url_credentials(meta, self.cleansed_substitute)

    def get_traceback_frame_variables(self, request, tb_frame):
        return [
            (name, mask_url_credentials(value, self.cleansed_substitute))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]
