# The production image: web (gunicorn), worker and beat all run from it (docker-compose.yml).
FROM python:3.11-slim-bookworm

# WeasyPrint renders PDFs with Pango and subsets their fonts with HarfBuzz; fonts for Dutch and
# English text.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DSAR_VAR_DIR=/var/lib/dsar
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir .
RUN useradd --system --home /app dsar && mkdir -p /var/lib/dsar && chown dsar /var/lib/dsar
USER dsar
# collectstatic needs settings but no database or secret of the deployment.
RUN DJANGO_SECRET_KEY=build-only-not-used-at-runtime-0123456789abcdefghijklmnopqrstuv \
    DSAR_ID_DOCUMENT_KEY=YnVpbGQtb25seS1ub3QtdXNlZC1hdC1ydW50aW1lLTA= \
    DSAR_AUDIT_KEY=build-only-not-used-at-runtime-0123456789abcdef \
    python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "dsar.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
