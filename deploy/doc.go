// Package deploy holds gatecrash's deployment files — the container image's Dockerfile at the
// repository's top level, docker-compose, Kubernetes manifests — and the tests that keep them
// true to the code: the Dockerfile's build line makes a static binary, the image runs.
package deploy
