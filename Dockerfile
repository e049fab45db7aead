# EchoGen server image: a static Go binary on Debian slim with the tools the
# server runs as child processes. See docs/deploy.md.
#
#   docker build -t echogen .
#   docker run -d -p 8000:8000 -v echogen-data:/data echogen
#
# cmd/echogen/static_test.go (TestStaticBuild) checks what this file
# assumes: the binary built below needs no shared library, and the apt-get
# install line below has every program the server shells out to.

# --- build ------------------------------------------------------------------
FROM golang:1.26-bookworm AS build
WORKDIR /src
# Dependencies first, so code changes reuse the module download layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Pure Go (SQLite is modernc.org/sqlite), so CGO is off and the binary is
# static: it runs on any Linux of the same architecture.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/echogen ./cmd/echogen

# --- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim
# ffmpeg: MP3/AAC/Opus encoding; lame: MP3 encoding; espeak-ng: the offline
# "local" voice; poppler-utils: pdftotext for PDF ingestion;
# ca-certificates: HTTPS to the AI providers, S3 and Supabase.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata ffmpeg lame espeak-ng poppler-utils \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 echogen \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin echogen \
    && mkdir -p /data \
    && chown 10001:10001 /data \
    && chmod 0750 /data
COPY --from=build /out/echogen /usr/local/bin/echogen

# DATA_DIR holds the SQLite database, local media, temporary audio files and
# (when the secrets are not set) the generated DATA_DIR/secrets.env.
# HTTP_ADDR wins over PORT: on a platform that routes to $PORT, point it at
# 8000 or set HTTP_ADDR to its port.
ENV DATA_DIR=/data HTTP_ADDR=:8000
VOLUME /data
EXPOSE 8000
USER 10001:10001

# `echogen healthcheck` asks GET /health on HTTP_ADDR (loopback), so the image
# needs no curl. Worker processes (serve --role=worker) answer it too.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["echogen", "healthcheck"]
ENTRYPOINT ["echogen"]
CMD ["serve"]
