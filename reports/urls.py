"""The reports' pages, under /admin/reports/: behind the admin's login (and its two-factor check);
each view checks the user's scope itself."""

from django.contrib import admin
from django.urls import path

from . import views

wrap = admin.site.admin_view

urlpatterns = [
    path("case/<int:pk>.pdf", wrap(views.case_pdf), name="reports_case_pdf"),
    path("", wrap(views.index), name="reports_index"),
    path("compliance.pdf", wrap(views.compliance_pdf), name="reports_compliance_pdf"),
    path("figures.csv", wrap(views.figures_csv), name="reports_figures_csv"),
    path("requests.csv", wrap(views.log_csv), name="reports_log_csv"),
    path("archive/", wrap(views.archive_create), name="reports_archive_create"),
    path("archive/<int:pk>/", wrap(views.archive_page), name="reports_archive"),
    path("archive/<int:pk>.zip", wrap(views.archive_download), name="reports_archive_zip"),
]
