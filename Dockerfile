# The ramp-controller image that config/manager/manager.yaml runs; it also
# holds the ramp CLI, whose `ramp dashboard` config/dashboard runs.
#   docker build -t ghcr.io/rampdev/ramp-controller:latest .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
COPY api/go.mod api/go.sum api/
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/rampdev/ramp/internal/version.Version=${VERSION}" \
    -o /out/ ./cmd/ramp-controller ./cmd/ramp

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/ramp-controller /out/ramp /
USER 65532:65532
ENTRYPOINT ["/ramp-controller"]
