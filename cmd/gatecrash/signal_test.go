//go:build unix

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
	"github.com/gatecrash/gatecrash/proxy"
	"github.com/gatecrash/gatecrash/results"
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

// TestLoadBinarySignals: the first SIGINT stops the run, writes the result and exits 130; a
// second SIGINT during the grace period ends the process at once.
func TestLoadBinarySignals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := buildBinary(t)
	url := startOrigin(t, "delay:head-delay=50ms,match=/fast", "delay:head-delay=1h,match=/stuck")

	t.Run("one SIGINT: result written, exit 130", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "r.json")
		cmd := exec.Command(bin, "load", url+"fast", "--duration", "1h", "--connections", "2", "--out", out)
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGINT)
		err := waitExit(t, cmd, 5*time.Second)
		if code := exitCode(err); code != 130 {
			t.Fatalf("exit %d, want 130", code)
		}
		r, rerr := results.ReadFile(out)
		if rerr != nil || !r.Interrupted || r.Requests < 5 {
			t.Fatalf("partial result: %v %+v", rerr, r)
		}
		if !strings.Contains(stdout.String(), "INTERRUPTED") {
			t.Fatalf("summary:\n%s", stdout.String())
		}
	})
	t.Run("second SIGINT: exits at once", func(t *testing.T) {
		cmd := exec.Command(bin, "load", url+"stuck", "--duration", "1h", "--connections", "2", "--grace", "1h")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGINT) // requests are stuck for an hour: grace would wait
		time.Sleep(200 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGINT)
		err := waitExit(t, cmd, 3*time.Second)
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("process exited cleanly after the second SIGINT: %v", err)
		}
	})
}

func waitExit(t *testing.T, cmd *exec.Cmd, within time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		cmd.Process.Kill()
		t.Fatalf("still running %v after the signal", within)
		return nil
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestRunInterruptedLeavesNoProxy interrupts `gatecrash run` mid-variant: it must exit 130,
// leave a readable partial result, and leave no proxy process or temp dir behind.
func TestRunInterruptedLeavesNoProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	kind := "nginx"
	if _, err := proxy.FindBinary(proxy.Nginx, ""); err != nil {
		if os.Getenv("GATECRASH_E2E") == "require" {
			t.Fatalf("GATECRASH_E2E=require: %v", err)
		}
		kind = "embedded" // still checks the exit code and the partial result
	}
	bin := buildBinary(t)
	// SIGHUP too: a closed terminal or a dropped ssh session must not lose the variant's
	// result (it exited 129 without writing it).
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGHUP, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "run")
			// A private TMPDIR: other tests' proxies (other packages run in parallel) make their
			// temp dirs in the shared one.
			tmp := t.TempDir()
			cmd := exec.Command(bin, "run", "forced-race", "--proxy", kind, "--duration", "1m", "--out", out, "--variant", "post")
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for len(processesMentioning(out)) == 0 && kind == "nginx" && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond) // wait until the proxy runs
			}
			time.Sleep(1500 * time.Millisecond)
			cmd.Process.Signal(sig)
			err := waitExit(t, cmd, 15*time.Second)
			if code := exitCode(err); code != 130 {
				t.Fatalf("exit %d, want 130\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
			}
			r, rerr := results.ReadFile(filepath.Join(out, "post.json"))
			if rerr != nil || !r.Interrupted || r.Requests == 0 || r.Count(results.OK) == 0 {
				t.Fatalf("partial result: %v %+v", rerr, r)
			}
			if !strings.Contains(stdout.String(), "(interrupted)") {
				t.Fatalf("the comparison does not say it was interrupted:\n%s", stdout.String())
			}
			if ps := processesMentioning(out); len(ps) != 0 {
				t.Fatalf("proxy processes left after the interrupt: %v", ps)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Fatalf("temp files left behind in TMPDIR: %v", left)
			}
		})
	}
}

// processesMentioning lists processes whose command line contains s (the proxy is started
// with its config inside the run folder).
func processesMentioning(s string) []string {
	var out []string
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, c := range cmdlines {
		b, err := os.ReadFile(c)
		if err == nil && strings.Contains(string(b), s) {
			out = append(out, c+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}
