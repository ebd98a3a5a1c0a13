# tronrent API image: python:3.11-slim, non-root, migrations then the API on port 8000.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# curl for the HEALTHCHECK below
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin tronrent \
    && mkdir -p /data \
    && chown tronrent:tronrent /data

USER tronrent

ENV ENVIRONMENT=production \
    DATA_DIR=/data \
    API_HOST=0.0.0.0 \
    API_PORT=8000 \
    ENERGY_FLASH_ENABLED=true

VOLUME ["/data"]
EXPOSE 8000

# seed 000 section 7.2, on our port
HEALTHCHECK --interval=30s --timeout=10s --start-period=5s --retries=3 CMD curl -f http://localhost:8000/api/health || exit 1

# migrations take a database lock, so several replicas may start at once
CMD ["sh", "-c", "tronrent migrate && exec tronrent serve"]
