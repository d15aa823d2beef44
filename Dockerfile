# One image for the api, worker and beat services (docker-compose.yml picks the command).
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system kyc && useradd --system --gid kyc --home-dir /app --shell /usr/sbin/nologin kyc
WORKDIR /app

# Dependencies first (cached layer), then the code.
COPY pyproject.toml README.md ./
COPY kyc ./kyc
COPY lists ./lists
COPY workers ./workers
COPY api ./api
COPY cli ./cli
RUN pip install . && mkdir -p /app/var /app/audit-checkpoints && chown kyc:kyc /app/var /app/audit-checkpoints

USER kyc
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
CMD ["kyc", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-embedded"]
