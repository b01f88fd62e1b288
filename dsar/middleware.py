"""Request-wide policies that must run before Django reads a request body or picks a language."""

from __future__ import annotations

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
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = settings.PUBLIC_MAX_BODY + 1
        if length > settings.PUBLIC_MAX_BODY:
            return render(request, "public/error.html", {"problem": "too_large"}, status=413)
        return self.get_response(request)


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
