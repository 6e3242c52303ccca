# The sspp-seed tool as an image: migrations in an init container, backups in a CronJob, demo data in compose.
#   docker build -t sspp-seed:0.1.0 .
#   docker run --rm --network host -e DATABASE_URL=postgresql://postgres:postgres@localhost:5432/sspp sspp-seed:0.1.0 status
# bookworm, pinned: its postgresql-client is 15, the server's major version, for pg_dump/pg_restore/psql.

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/sspp
WORKDIR /src
# Only what the wheel is built from (.dockerignore allows nothing else into the context).
COPY pyproject.toml README.md ./
COPY sspp_fixtures ./sspp_fixtures
COPY sql ./sql
COPY scenarios ./scenarios
RUN /opt/sspp/bin/pip install --no-cache-dir . \
    && /opt/sspp/bin/sspp-seed --version

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="sspp-seed" \
      org.opencontainers.image.description="Seed data, migrations and backups for the SSPP PostgreSQL database" \
      org.opencontainers.image.licenses="MIT"
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 sspp \
    && useradd --system --uid 10001 --gid 10001 --home-dir /home/sspp --create-home --shell /usr/sbin/nologin sspp
COPY --from=build /opt/sspp /opt/sspp
# The cache (Faker pools of `load`) goes to /tmp: the only writable path under readOnlyRootFilesystem.
ENV PATH=/opt/sspp/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SSPP_FIXTURES_CACHE=/tmp/sspp-fixtures
WORKDIR /home/sspp
# Numeric, so Kubernetes can check runAsNonRoot against the image.
USER 10001:10001
ENTRYPOINT ["sspp-seed"]
CMD ["--help"]
