# lifeboat: a static binary on Debian slim with PostgreSQL of the newest major
# the PostgreSQL project's apt repository (pgdg) offers: the client tools, so
# it can dump servers up to that major (pg_dump must be >= the server's
# major), and the server binaries, so each run restores in a sandbox (a
# throw-away cluster lifeboat starts as this image's unprivileged user). A
# newer server restores any older dump; PG_EXTRA_MAJORS adds older servers so
# a dump also restores on its own major (each adds about 50 MB installed,
# 17 MB download, judging by Debian's postgresql-15):
#   docker build -t lifeboat .
#   docker build --build-arg PG_EXTRA_MAJORS="17 16" -t lifeboat .
#   docker run --rm -v ./config.yaml:/etc/lifeboat/config.yaml:ro -p 8080:8080 lifeboat
ARG PG_MAJOR=18
ARG PG_EXTRA_MAJORS=""

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags="-s -w" -o /out/lifeboat ./cmd/server \
 && GOBIN=/out go install -trimpath -ldflags="-s -w" filippo.io/age/cmd/age-keygen@v1.3.2

FROM debian:bookworm-slim
ARG PG_MAJOR
ARG PG_EXTRA_MAJORS
# postgresql-common ships the pgdg signing key and the script that adds the
# repository; pg_dump/pg_restore then live in /usr/lib/postgresql/$PG_MAJOR/bin.
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates postgresql-common; \
    /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y; \
    echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf; \
    pkgs="postgresql-client-${PG_MAJOR} postgresql-${PG_MAJOR}"; \
    for m in ${PG_EXTRA_MAJORS}; do pkgs="$pkgs postgresql-$m"; done; \
    apt-get install -y --no-install-recommends $pkgs; \
    rm -rf /var/lib/apt/lists/*; \
    "/usr/lib/postgresql/${PG_MAJOR}/bin/pg_dump" --version; \
    "/usr/lib/postgresql/${PG_MAJOR}/bin/postgres" --version; \
    groupadd --system --gid 10001 lifeboat; \
    useradd --system --uid 10001 --gid lifeboat --home-dir /var/lib/lifeboat --shell /usr/sbin/nologin lifeboat; \
    mkdir -p /etc/lifeboat /var/lib/lifeboat/keys /var/lib/lifeboat/backups; \
    chown -R lifeboat:lifeboat /var/lib/lifeboat
COPY --from=build /out/lifeboat /out/age-keygen /usr/local/bin/
ENV PG_BIN_DIR=/usr/lib/postgresql/${PG_MAJOR}/bin \
    LIFEBOAT_CONFIG=/etc/lifeboat/config.yaml \
    LIFEBOAT_LISTEN=0.0.0.0:8080 \
    TMPDIR=/var/lib/lifeboat
# Not root: the sandbox's PostgreSQL runs as this same unprivileged user.
USER lifeboat:lifeboat
WORKDIR /var/lib/lifeboat
VOLUME /var/lib/lifeboat
EXPOSE 8080
ENTRYPOINT ["lifeboat"]
CMD ["serve"]
