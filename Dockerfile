# syntax=docker/dockerfile:1

# Build: static binaries, with the module and build caches kept between
# builds by BuildKit cache mounts.
FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags='-s -w' -o /out/queueless ./cmd/queueless && \
    go build -ldflags='-s -w' -o /out/mockapi ./cmd/mockapi

# Run: distroless static, no shell, non-root (uid 65532). With no curl or
# wget in the image, the health check is the binary's own subcommand, which
# GETs /healthz on ADDR and exits 0 or 1.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/queueless /queueless
COPY --from=build /out/mockapi /mockapi
USER nonroot:nonroot
ENV ADDR=:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/queueless", "healthcheck"]
ENTRYPOINT ["/queueless"]
CMD ["serve"]
