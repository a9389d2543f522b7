# One image for every service of docker-compose.yml: each server configuration
# serves integration.apps:app, and the `matrix` service checks them by URL.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv/lilya_ws

# Dependencies first, so that editing the apps does not reinstall them.
COPY pyproject.toml README.md ./
COPY lilya_ws ./lilya_ws
RUN pip install -e '.[dev]'

COPY adapters ./adapters
COPY integration ./integration

EXPOSE 8000
CMD ["python", "-m", "adapters", "list"]
