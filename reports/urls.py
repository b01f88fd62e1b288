"""The reports' pages, under /admin/reports/: behind the admin's login (and its two-factor check);
each view checks the user's scope itself."""

from django.contrib import admin
from django.urls import path

from . import views

wrap = admin.site.admin_view

urlpatterns = [
    path("case/<int:pk>.pdf", wrap(views.case_pdf), name="reports_case_pdf"),
]
