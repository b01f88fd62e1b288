"""Request-wide policies that must run before Django reads a request body or picks a language."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation


class BodySizeLimitMiddleware:
    """Refuse an oversized body from its Content-Length, before anything reads it.

    Must come before CsrfViewMiddleware, which parses the body of every POST. Django's own
    DATA_UPLOAD_MAX_MEMORY_SIZE does not count uploaded files.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # An officer's export of a manual search may be larger than anything the public sends:
        # the larger limit holds only on the answer page, and only for a signed-in staff user's
        # session (read here, before anything parses the body, so nobody else gets it parsed).
        limit = settings.PUBLIC_MAX_BODY
        if _OFFICER_UPLOAD.fullmatch(request.path) and _staff_session(request):
            limit = settings.OFFICER_UPLOAD_MAX
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = limit + 1
        if length > limit:
            return render(request, "public/error.html", {"problem": "too_large"}, status=413)
        return self.get_response(request)


class RefuseNulMiddleware:
    """Refuse a request that carries a NUL byte anywhere the application reads: the path, the
    query, form fields, cookies, headers (and a form body that does not parse at all).

    PostgreSQL refuses NUL in text, so such a value would turn a lookup (a session key, a
    reference, a filter) into a 500; no honest client sends one. Must come before anything
    that reads the session or the body into a query (sessions, axes).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _carries_nul(request):
            return render(request, "public/error.html", {"problem": "bad_request"}, status=400)
        return self.get_response(request)


def _carries_nul(request: HttpRequest) -> bool:
    texts = [request.path, request.META.get("QUERY_STRING", "")]
    texts += [v for k, v in request.META.items() if k.startswith("HTTP_") and isinstance(v, str)]
    for key, value in request.COOKIES.items():
        texts += [key, value]
    fields = [request.GET]
    # A provider's inbound post carries the raw mail, which may hold NUL: mail in cleans it
    # (mailin.ingest), and refusing it would only make the provider retry it forever.
    webhook = request.path.startswith("/anymail/")
    if (
        request.method == "POST"
        and not webhook
        and request.content_type
        in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        )
    ):
        try:
            fields.append(request.POST)
        except Exception:  # a body that does not parse is refused like one that carries NUL
            return True
    for query in fields:
        for key, values in query.lists():
            texts += [key, *values]
    return any("\x00" in text for text in texts)


class LanguageMiddleware:
    """Dutch unless the visitor chose English with the switcher (a cookie).

    Unlike Django's LocaleMiddleware this ignores Accept-Language: the product is Dutch by
    default, and a subject's mail follows the language of the page they used.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        translation.deactivate()
        return response


class SecurityHeadersMiddleware:
    """Content security policy and a restrictive permissions policy on every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"
        )
        return response


# The old address too (rename:keep): a form loaded before the rename posts there and is
# redirected with a 308, so it must get past the public body limit as the new one does.
_OFFICER_UPLOAD = re.compile(r"/admin/fulfilment/(?:search|collection)/\d{1,18}/answer/")


def _staff_session(request: HttpRequest) -> bool:
    from importlib import import_module

    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.base import SessionBase

    key = request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")
    if not key or not key.isalnum() or len(key) > 64:
        return False
    store: SessionBase = import_module(settings.SESSION_ENGINE).SessionStore(key)
    user_id = store.get("_auth_user_id")
    return bool(
        user_id
        and get_user_model().objects.filter(pk=user_id, is_staff=True, is_active=True).exists()
    )
