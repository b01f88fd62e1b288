"""The officer's fulfilment pages, under /admin/fulfilment/: behind the admin's login (and its
two-factor check), each view checks scope and role itself (fulfilment.searches.officer)."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.urls import path, re_path

from .changes import officer as changes_officer
from .searches import officer

wrap = admin.site.admin_view

# Before issue 22 a search's pages lived under the model's old name.
OLD_SEARCH = "/fulfilment/collection/"  # rename:keep


def renamed(request: HttpRequest, rest: str) -> HttpResponsePermanentRedirect:
    """A bookmark or a page loaded before the rename: the same page at its new address. A 308,
    so that a form posted from such a page (a retry, an answer) is posted again, not dropped."""
    return HttpResponsePermanentRedirect(
        request.get_full_path().replace(OLD_SEARCH, "/fulfilment/search/", 1),
        preserve_request=True,
    )


urlpatterns = [
    re_path(r"^collection/(?P<rest>.*)$", renamed),  # rename:keep
    path("case/<int:pk>/progress/", wrap(officer.progress_view), name="fulfilment_progress"),
    path("search/<int:pk>/retry/", wrap(officer.retry_view), name="fulfilment_retry"),
    path("search/<int:pk>/skip/", wrap(officer.skip_view), name="fulfilment_skip"),
    path("search/<int:pk>/answer/", wrap(officer.answer_view), name="fulfilment_answer"),
    path(
        "search/<int:pk>/table/<str:table>/",
        wrap(officer.table_view),
        name="fulfilment_table",
    ),
    path(
        "search/<int:pk>/table/<str:table>/withhold/",
        wrap(officer.withhold_view),
        name="fulfilment_withhold",
    ),
    path("package/<int:pk>/", wrap(officer.package_view), name="fulfilment_package"),
    path("case/<int:pk>/letter/", wrap(officer.letter_items_view), name="fulfilment_letter_items"),
    path("package/<int:pk>/revoke/", wrap(officer.revoke_view), name="fulfilment_revoke"),
    path("case/<int:pk>/plan/", wrap(changes_officer.plan_view), name="fulfilment_plan"),
    path(
        "case/<int:pk>/correction/",
        wrap(changes_officer.correction_view),
        name="fulfilment_correction",
    ),
    path(
        "change/<int:pk>/confirm/",
        wrap(changes_officer.confirm_view),
        name="fulfilment_change_confirm",
    ),
    path(
        "change/<int:pk>/retry/",
        wrap(changes_officer.change_retry_view),
        name="fulfilment_change_retry",
    ),
    path(
        "change/<int:pk>/skip/",
        wrap(changes_officer.change_skip_view),
        name="fulfilment_change_skip",
    ),
    path(
        "notice/<int:pk>/answer/",
        wrap(changes_officer.notice_answer_view),
        name="fulfilment_notice_answer",
    ),
    path(
        "notice/<int:pk>/decide/",
        wrap(changes_officer.notice_decide_view),
        name="fulfilment_notice_decide",
    ),
]
