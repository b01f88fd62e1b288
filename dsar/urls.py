"""The project's URLs: the public site, the admin (queue and registry), and provider webhooks."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from django_otp.admin import OTPAdminSite

from . import webhooks

if settings.ADMIN_2FA:
    # django-otp's documented switch: the admin login then asks for a TOTP token, and only users
    # with a confirmed device get in.
    admin.site.__class__ = OTPAdminSite

urlpatterns = [
    path("", include("public.urls")),
    path("", include("fulfilment.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # The configured provider's webhooks (tracking, inbound), only with the secret: dsar.webhooks.
    re_path(r"^anymail/(?P<provider>\w+)/(?P<rest>.*)$", webhooks.webhook, name="anymail_webhook"),
    # Links in mail sent before the model was renamed (Request -> Case) still lead to the case.
    re_path(
        r"^admin/dsar/request/(?P<rest>.*)$",
        RedirectView.as_view(url="/admin/dsar/case/%(rest)s", permanent=True, query_string=True),
    ),
    path("admin/fulfilment/", include("fulfilment.admin_urls")),
    path("admin/reports/", include("reports.urls")),
    path("admin/", admin.site.urls),
]
