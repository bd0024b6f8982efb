// Package files is how gatecrash reads the files a user names and writes the files it
// produces, so that every command follows one rule: an input is a regular file of bounded
// size (or stdin when "-" is meant), refused before it is opened when it is a named pipe or a
// device (opening a FIFO blocks; /dev/zero never ends); an output is written atomically, never
// replaces a non-regular file (a device, a FIFO, a socket, a directory) and, unless forced,
// never replaces a file that is not of the kind being written. Its functions are safe to
// call concurrently on different paths.
package files

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Errors a caller tells apart (errors.Is): the named file is not something that may be read
// or replaced; the input is over its size cap.
var (
	ErrNotRegular = errors.New("not a regular file")
	ErrTooLarge   = errors.New("over the size limit")
	ErrNotOurs    = errors.New("not a file of the kind being written")
)

// Stdin is the name that means standard input where a command accepts it.
const Stdin = "-"

// Read reads the whole input path, at most max bytes, naming it what ("--check",
// "proxy.template") in errors. stdin, when not nil, is read for "-". A non-regular file is
// refused before it is opened, and so is a file over max; a file that grows past max while
// being read is refused too.
func Read(path, what string, max int64, stdin io.Reader) ([]byte, error) {
	var rd io.Reader
	if path == Stdin && stdin != nil {
		rd = stdin
	} else {
		st, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: %s is %s: %w (give a file)", what, path, Describe(st.Mode()), ErrNotRegular)
		}
		if st.Size() > max {
			return nil, fmt.Errorf("%s: %s is %d bytes, %w of %d bytes", what, path, st.Size(), ErrTooLarge, max)
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		defer f.Close()
		rd = f
	}
	b, err := io.ReadAll(io.LimitReader(rd, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading %s: %w", what, path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: %s is more than %d bytes: %w", what, path, max, ErrTooLarge)
	}
	return b, nil
}

// Describe names what a non-regular file is, for messages.
func Describe(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "not a regular file"
}

// Kind is a kind of file gatecrash writes: its name for messages and how to recognise one
// from its first bytes.
type Kind struct {
	Name  string
	Looks func(head []byte) bool
}

// HeadSize is how many leading bytes Kind.Looks is given.
const HeadSize = 4096

// Check says whether path may be written as an output of kind before any work is done: its
// folder must exist and take new files, and path must be absent, or a regular file (through
// symlinks) of that kind — or of any kind when force. flag names the option in errors.
func Check(path, flag string, kind Kind, force bool) error {
	target, err := resolve(path)
	if err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	st, err := os.Stat(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("%s: %w", flag, err)
	case !st.Mode().IsRegular():
		return fmt.Errorf("%s: %s is %s, %w; gatecrash writes only regular files (give a file path)", flag, path, Describe(st.Mode()), ErrNotRegular)
	case !force && st.Size() > 0:
		head, err := readHead(target)
		if err != nil {
			return fmt.Errorf("%s: %w", flag, err)
		}
		if !kind.Looks(head) {
			return fmt.Errorf("%s: %s exists and is not a gatecrash %s: %w; it would be replaced (give another path, or --force to replace it)",
				flag, path, kind.Name, ErrNotOurs)
		}
	}
	// The folder must take a new file: the atomic write makes its temp file there.
	return CheckFolder(filepath.Dir(target), flag)
}

// CheckFolder says whether dir exists and takes new files (it makes one and removes it),
// naming flag in errors: what a run that writes there learns before it starts, not at its end.
func CheckFolder(dir, flag string) error {
	f, err := os.CreateTemp(dir, ".gatecrash-check-*")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: folder %s does not exist (create it first)", flag, dir)
		}
		return fmt.Errorf("%s: cannot write in %s: %w", flag, dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// resolve follows symlinks of path to the file they name (which need not exist yet): an
// output written through a link replaces the file it points at, not the link.
func resolve(path string) (string, error) {
	for range 40 {
		st, err := os.Lstat(path)
		if err != nil || st.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		to, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(to) {
			to = filepath.Join(filepath.Dir(path), to)
		}
		path = to
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", path)
}

func readHead(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, HeadSize)
	n, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b[:n], nil
}

// WriteAtomic writes data to path atomically: a temp file in the same folder, fsynced, then
// renamed over path (through symlinks: the file a link names is replaced, the link stays). It
// refuses to replace a non-regular file. The file is made mode perm.
func WriteAtomic(path string, data []byte, perm fs.FileMode) error {
	target, err := resolve(path)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if st, err := os.Stat(target); err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("writing %s: it is %s, %w; gatecrash replaces only regular files", path, Describe(st.Mode()), ErrNotRegular)
	}
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, target); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// LooksLike returns a Kind.Looks that accepts a file whose first bytes, leading white space
// aside, start with prefix, or that holds marker in its first HeadSize bytes.
func LooksLike(prefix, marker string) func([]byte) bool {
	return func(head []byte) bool {
		t := bytes.TrimLeft(head, " \t\r\n")
		return bytes.HasPrefix(t, []byte(prefix)) && (marker == "" || bytes.Contains(head, []byte(marker)))
	}
}

// Open opens the input path for a streamed read, naming it what in errors: a non-regular file
// is refused before it is opened. stdin, when not nil, is returned for "-" (closing it does
// nothing). The caller bounds what it reads.
func Open(path, what string, stdin io.Reader) (io.ReadCloser, error) {
	if path == Stdin && stdin != nil {
		return io.NopCloser(stdin), nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %s is %s: %w (give a file, or - for stdin)", what, path, Describe(st.Mode()), ErrNotRegular)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return f, nil
}
