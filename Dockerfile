FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY leadpact ./leadpact
COPY integration ./integration
COPY webhooks ./webhooks
COPY rules ./rules
COPY sync ./sync
COPY amocrm_sandbox ./amocrm_sandbox
RUN pip install . && useradd --create-home leadpact && mkdir -p /data && chown leadpact /data
USER leadpact
ENV DATABASE_URL=sqlite:////data/leadpact.db DATA_DIR=/data
EXPOSE 8000
CMD ["leadpact", "serve", "--host", "0.0.0.0", "--port", "8000"]
