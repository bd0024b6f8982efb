package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/faultserver"
)

// buildBinary builds gatecrash once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gatecrash")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestServeBinaryStopsOnRealSignals sends real signals to the built binary: SIGTERM and SIGINT
// both stop it with exit 0 and the final counters on stdout.
func TestServeBinaryStopsOnRealSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := buildBinary(t)
	dir := t.TempDir()
	certFile, keyFile, certDER := writeCertPair(t, dir)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			tlsAddr := freeAddr(t)
			cmd := exec.Command(bin, "serve", "--listen", "", "--admin", "", "--tls-listen", tlsAddr,
				"--tls-cert", certFile, "--tls-key", keyFile)
			var stdout bytes.Buffer
			stderr, _ := cmd.StderrPipe()
			cmd.Stdout = &stdout
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill() })
			sc := bufio.NewScanner(stderr)
			for sc.Scan() && !strings.Contains(sc.Text(), "fault server: https://") {
			}
			go io.Copy(io.Discard, stderr)

			// The TLS listener presents the certificate from the files, not a generated one.
			conn, err := tls.Dial("tcp", tlsAddr, &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(conn.ConnectionState().PeerCertificates[0].Raw, certDER) {
				t.Fatal("server presented another certificate than the one in --tls-cert")
			}
			io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			buf := make([]byte, 512)
			conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			if n, _ := conn.Read(buf); !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200 OK") {
				t.Fatalf("response over TLS: %q", buf[:n])
			}
			conn.Close()

			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					t.Fatalf("exit %d after %v, want 0", ee.ExitCode(), sig)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("still running 5s after %v", sig)
			}
			if out := stdout.String(); !strings.Contains(out, "final ground-truth counters:") ||
				!strings.Contains(out, "tls handshakes         1 (failed 0)") || !strings.Contains(out, "responses completed    1") {
				t.Fatalf("final counters missing or wrong:\n%s", out)
			}
		})
	}
}

// writeCertPair writes a certificate and key to PEM files and returns their paths and the
// certificate's DER bytes, by which the test recognises it.
func writeCertPair(t *testing.T, dir string) (string, string, []byte) {
	t.Helper()
	cert, err := faultserver.SelfSignedCertificate()
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile, cert.Certificate[0]
}
