# One image for every service of docker-compose.yml: each server configuration
# serves integration.apps:app, and the `matrix` service checks them by URL.
#
# BASE is any image with Python 3.10+ and its venv module. The default is the
# public one; .ci/compose builds a Debian bookworm base locally (no registry is
# reachable on CI) and passes it with --build-arg BASE=localhost/lilya-ws-base:bookworm.
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

WORKDIR /srv/lilya_ws

# A virtualenv, so that the same steps work on both bases (Debian's own Python
# refuses installs into the system, PEP 668); `python` and `pip` are the venv's.
RUN python3 -m venv /opt/venv && python -m pip install --quiet --upgrade pip

# The whole project (less .dockerignore's list): the wheel's packages and its
# build hook live beside lilya_ws, so no subset is safe to install from. The
# versions the matrix was measured with, as .ci/run installs them.
COPY . .
RUN pip install --quiet -c .ci/constraints.txt -e '.[dev]'

EXPOSE 8000
CMD ["python", "-m", "adapters", "list"]
