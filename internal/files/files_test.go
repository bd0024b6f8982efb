package files

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

var jsonKind = Kind{Name: "result", Looks: LooksLike("{", `"schema"`)}

func fifo(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	return p
}

// TestReadRefusesWhatNeverEnds: a FIFO, a device and an oversized file are refused before a
// byte is read (a FIFO would block the open itself); stdin is read for "-".
func TestReadRefusesWhatNeverEnds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	os.WriteFile(big, make([]byte, 2000), 0o644)
	small := filepath.Join(dir, "small")
	os.WriteFile(small, []byte("hello"), 0o644)
	for _, tc := range []struct {
		name, path string
		want       error
	}{
		{"fifo", fifo(t, dir), ErrNotRegular},
		{"device", "/dev/zero", ErrNotRegular},
		{"directory", dir, ErrNotRegular},
		{"too large", big, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(tc.path, "--check", 1000, nil)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), "--check") {
				t.Fatalf("Read(%s) = %v, want %v naming the flag", tc.path, err, tc.want)
			}
		})
	}
	if b, err := Read(small, "x", 1000, nil); err != nil || string(b) != "hello" {
		t.Fatalf("Read(small) = %q, %v", b, err)
	}
	if b, err := Read("-", "x", 3, strings.NewReader("abcdef")); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Read(stdin over the cap) = %q, %v", b, err)
	}
	if _, err := Open(filepath.Join(dir, "fifo"), "--from-logs", nil); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("Open(fifo) = %v", err)
	}
}

// TestCheckOutputs: an output never replaces a device, a FIFO or a file of another kind
// (unless forced), and a missing folder is said before any work is done.
func TestCheckOutputs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := fifo(t, dir)
	other := filepath.Join(dir, "notes.txt")
	os.WriteFile(other, []byte("my notes"), 0o644)
	ours := filepath.Join(dir, "r.json")
	os.WriteFile(ours, []byte(`{"schema": "x"}`), 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink(f, link)
	for _, tc := range []struct {
		name, path string
		force      bool
		want       string
	}{
		{"fifo", f, true, "is a named pipe"},
		{"link to fifo", link, true, "is a named pipe"},
		{"device", "/dev/null", true, "is a character device"},
		{"directory", dir, true, "is a directory"},
		{"another kind", other, false, "is not a gatecrash result"},
		{"no folder", filepath.Join(dir, "nope", "r.json"), false, "does not exist"},
		{"another kind, forced", other, true, ""},
		{"ours", ours, false, ""},
		{"new", filepath.Join(dir, "new.json"), false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.path, "--out", jsonKind, tc.force)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "--out: ") {
				t.Fatalf("Check(%s) = %v, want %q", tc.path, err, tc.want)
			}
		})
	}
	if st, err := os.Lstat(f); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatal("the FIFO was touched")
	}
}

// TestWriteAtomic: through a symlink the file it names is replaced and the link stays; a FIFO
// is never replaced; the file gets the mode asked for.
func TestWriteAtomic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "target.json")
	os.WriteFile(target, []byte("old"), 0o600)
	link := filepath.Join(dir, "link.json")
	os.Symlink("target.json", link)
	if err := WriteAtomic(link, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", st.Mode(), err)
	}
	if b, _ := os.ReadFile(target); string(b) != "new" {
		t.Fatalf("target holds %q", b)
	}
	if st, _ := os.Stat(target); st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", st.Mode())
	}
	f := fifo(t, dir)
	if err := WriteAtomic(f, []byte("x"), 0o644); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("WriteAtomic(fifo) = %v", err)
	}
	if st, _ := os.Lstat(f); st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatal("the FIFO was replaced")
	}
}
