# gatecrash in a container: the same image runs serve, load, run (embedded or external proxy),
# report, compare, merge and check.
#
#   docker build -t gatecrash --build-arg VERSION=$(git describe --tags --always) .
#   docker run --rm -p 9001:9001 gatecrash serve --listen 0.0.0.0:9001 --fault idle-close:timeout=5s
#
# Build stage: a static binary (no cgo, no libc), paths trimmed, the version stamped.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gatecrash ./cmd/gatecrash
# A writable work dir and /tmp for the non-root user (scratch has neither).
RUN mkdir -p /out/work /out/tmp && chown 65532:65532 /out/work && chmod 1777 /out/tmp

# Final stage: nothing but the binary, CA certificates (for load against HTTPS), the built-in
# scenarios as files to copy and edit (they are also inside the binary), a work dir and /tmp.
FROM scratch
COPY --from=build /out/gatecrash /usr/local/bin/gatecrash
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /src/scenarios/library /usr/share/gatecrash/scenarios
# --chown, not the build stage's chown: buildah (podman build 4.x) copies a directory as root
# 0755 whatever it was, and the non-root user could not write its results (--out /work/x.json,
# or a named volume on /work, which takes the image directory's owner).
COPY --from=build --chown=65532:65532 /out/work /work
COPY --from=build --chown=65532:65532 /out/tmp /tmp
USER 65532:65532
WORKDIR /work
ENTRYPOINT ["gatecrash"]
CMD ["--help"]
