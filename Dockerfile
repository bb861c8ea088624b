# passendezorg as an HTTP service (see docs/guide/service.md):
#
#   docker build -t passendezorg .
#   docker run --rm -p 8000:8000 passendezorg
#
# The shipped rule book is in /app/rules; mount another over it, or set PASSENDEZORG_RULES.
# Claims, receipts and the ledger need a database: PASSENDEZORG_DB (a SQLite file on the
# volume /data, or a postgresql:// URL), and writes need PASSENDEZORG_API_KEY.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY grammar ./grammar
COPY src ./src
RUN pip install ".[serve,postgres]"
COPY rules ./rules

RUN useradd --system --uid 10001 --no-create-home --home-dir /nonexistent passendezorg \
    && mkdir -p /data /var/cache/passendezorg \
    && chown passendezorg /data /var/cache/passendezorg
USER passendezorg

ENV PASSENDEZORG_RULES=/app/rules \
    PASSENDEZORG_CACHE=/var/cache/passendezorg
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]

CMD ["passendezorg", "serve", "--host", "0.0.0.0", "--port", "8000"]
