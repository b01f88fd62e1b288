"""The data subject's URLs. Their names are part of the contract with the core: the status and
confirmation links in mail (cases.links) reverse "status" and "confirm"."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("c/<slug:slug>/", views.controller_detail, name="controller"),
    path("c/<slug:slug>/request/", views.request_form, name="request_form"),
    path("c/<slug:slug>/sent/", views.submitted, name="submitted"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("s/<str:reference>/<str:token>/", views.status, name="status"),
]
