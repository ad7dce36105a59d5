# syntax=docker/dockerfile:1
# The gateway image.
#   docker build -t ghcr.io/example/localai-gateway:0.1.0 .
#   docker build --build-arg WITH_LEGACY=1 -t ghcr.io/example/localai-gateway:0.1.0-legacy .
# WITH_LEGACY=1 adds the in-process llama.cpp fallback (the `legacy` extra), compiled here.

# ---- builder: every wheel the gateway needs, compiled where no wheel is published ----
FROM python:3.11-slim-bookworm AS builder
ARG WITH_LEGACY=0
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN if [ "$WITH_LEGACY" = "1" ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends build-essential cmake \
        && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY clients ./clients
COPY grammar ./grammar
# The `redis` extra: the k8s overlays share rate-limit buckets through Redis.
# llama-cpp-python's LLaVA build is not used by the fallback and doubles the compile time.
RUN if [ "$WITH_LEGACY" = "1" ]; then target=".[legacy,redis]"; else target=".[redis]"; fi \
    && CMAKE_ARGS="-DLLAVA_BUILD=OFF" pip wheel --wheel-dir /wheels "$target"

# ---- runtime: the wheels and nothing that built them ----
FROM python:3.11-slim-bookworm
ARG WITH_LEGACY=0
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# llama.cpp's CPU build needs the OpenMP runtime (a library, not a build tool).
RUN if [ "$WITH_LEGACY" = "1" ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends libgomp1 \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin gateway
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index /wheels/*.whl
WORKDIR /app
# The example registry, so `docker run` works as is; Kubernetes mounts its own.
COPY localai_models.yaml ./
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["localai-gateway", "serve", "--host", "0.0.0.0"]
