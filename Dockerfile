# Speech Archive web image: gunicorn + whitenoise. Configuration comes only
# from the environment (see docker-compose.yml and the README).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 1000 archive
WORKDIR /app

COPY pyproject.toml ./
RUN pip install .

COPY . .
# collectstatic needs settings that import cleanly without a database or secret.
RUN DJANGO_DEBUG=False DJANGO_SECRET_KEY=build-only DATABASE_URL=postgres://build@localhost/build \
    python manage.py collectstatic --noinput

USER archive
EXPOSE 8000
CMD ["gunicorn", "--config", "gunicorn.conf.py", "archive.wsgi"]
