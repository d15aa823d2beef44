# One image for the migrate, api, worker and beat services (docker-compose.yml picks the command).
#
# Two stages: PyICU (needed by normality and countrynames) is published as source only and needs a C++ compiler
# and the ICU headers to build, so the builder stage turns every dependency into a wheel; the runtime stage
# installs those wheels with no compiler, only the ICU runtime library. scripts/check-image.sh replays these steps
# in a clean Debian bookworm root (the base of python:3.11-slim-bookworm) where no Docker engine is available.

FROM python:3.11-slim-bookworm AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# builder-packages: build-essential pkg-config libicu-dev
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential pkg-config libicu-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src

# Dependencies first (cached layer), then the code.
COPY pyproject.toml README.md constraints.txt ./
COPY kyc ./kyc
COPY lists ./lists
COPY workers ./workers
COPY api ./api
COPY cli ./cli
RUN pip wheel --constraint constraints.txt --wheel-dir /wheels .

FROM python:3.11-slim-bookworm AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# runtime-packages: libicu72
RUN apt-get update \
    && apt-get install -y --no-install-recommends libicu72 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system kyc && useradd --system --gid kyc --home-dir /app --shell /usr/sbin/nologin kyc
WORKDIR /app

COPY --from=builder /wheels /wheels
RUN pip install --no-index --find-links=/wheels kyc-screening \
    && rm -rf /wheels \
    && mkdir -p /app/var /app/var/index /app/audit-checkpoints \
    && chown kyc:kyc /app/var /app/var/index /app/audit-checkpoints

USER kyc
EXPOSE 8000
# Ready, not merely alive: database, broker and the matcher index (GET /readyz). Liveness is GET /healthz.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status == 200 else 1)"
# SIGTERM: uvicorn drains the requests in flight; Celery (worker command) finishes the job in hand.
STOPSIGNAL SIGTERM
CMD ["kyc", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-embedded"]
