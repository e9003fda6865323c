# One image for web, worker, beat and (with EXTRAS=vllm on a GPU host) the agent.
FROM python:3.11-slim

ARG EXTRAS=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CONSOLE_DATA_DIR=/data \
    CONSOLE_PRODUCTION=1

WORKDIR /app
COPY pyproject.toml README.md manage.py ./
COPY console ./console
COPY engines ./engines
COPY emulator ./emulator
COPY templates ./templates
COPY static ./static
RUN pip install --no-cache-dir ".${EXTRAS:+[$EXTRAS]}" \
    && useradd --system --uid 1000 --home /data console \
    && mkdir -p /data && chown console /data

USER console
VOLUME ["/data"]
EXPOSE 8000
CMD ["uvicorn", "console.asgi:application", "--host", "0.0.0.0", "--port", "8000", \
     "--http", "h11", "--h11-max-incomplete-event-size", "65536"]
