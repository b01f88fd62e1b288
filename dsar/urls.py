from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django_otp.admin import OTPAdminSite

from . import views

if settings.ADMIN_2FA:
    # django-otp's documented switch: the admin login then asks for a TOTP token, and only users
    # with a confirmed device get in.
    admin.site.__class__ = OTPAdminSite

urlpatterns = [
    path("", views.home, name="home"),
    path("c/<slug:slug>/", views.controller_detail, name="controller"),
    path("c/<slug:slug>/request/", views.request_form, name="request_form"),
    path("c/<slug:slug>/sent/", views.submitted, name="submitted"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("s/<str:reference>/<str:token>/", views.status, name="status"),
    path("i18n/", include("django.conf.urls.i18n")),
    # Provider webhooks (tracking), protected by ANYMAIL["WEBHOOK_SECRET"] (basic auth).
    path("anymail/", include("anymail.urls")),
    path("admin/", admin.site.urls),
]
