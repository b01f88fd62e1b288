"""The mail provider's webhooks (anymail): only the configured provider's, and only with the secret.

anymail routes a webhook for every provider it knows; an unconfigured one can answer 500, and
without ``ANYMAIL["WEBHOOK_SECRET"]`` anymail accepts any post with a warning, so anyone could
post a forged reply into a case. Here every ``/anymail/<provider>/...`` post goes through one
gate: a provider other than the configured one is a 404; no secret configured is a 403, for
every post; with the secret, anymail's own basic-auth check decides (and its signature check,
for providers that sign). Outside the demo, settings refuse to start with a provider and no
secret (dsar.settings).
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def webhook(request: HttpRequest, provider: str, rest: str) -> HttpResponse:
    if not provider or provider != settings.DSAR_MAIL_PROVIDER:
        raise Http404("no webhook for this provider")
    if not (settings.ANYMAIL or {}).get("WEBHOOK_SECRET"):
        return HttpResponseForbidden("webhooks need ANYMAIL_WEBHOOK_SECRET")
    try:
        match = resolve(f"/{provider}/{rest}", urlconf="anymail.urls")
    except Resolver404:
        raise Http404("no such webhook") from None
    if not (match.url_name or "").startswith(f"{provider}_"):
        raise Http404("no such webhook")  # another provider's route, reached by a crafted path
    return match.func(request, *match.args, **match.kwargs)
