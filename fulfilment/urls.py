"""Fulfilment's public URLs: the subject's package page and the processors' callbacks."""

from django.urls import path

from .searches import views

urlpatterns = [
    path("s/<str:reference>/<str:token>/package/", views.package_page, name="package"),
    path("fulfilment/callback/<int:search_id>/", views.callback, name="fulfilment_callback"),
]
