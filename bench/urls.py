"""The product's URLs plus the baseline: a bare Django view that inserts one row."""

from django.contrib import admin
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from cases.models import Case
from dsar.urls import urlpatterns as product

# The baseline of bench/queue.py: the stock changelist of the same model, nothing customised.
stock_site = admin.AdminSite(name="stock")
stock_site.register(Case)


@csrf_exempt
def bare_insert(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_row (payload) VALUES (%s)", [request.POST.get("name", "")]
        )
    return HttpResponse(status=204)


urlpatterns = [
    path("bench/bare/", bare_insert),
    path("stock-admin/", stock_site.urls),
    *product,
]
