package results

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Log blocks carry a result through a container's standard output, for platforms where the
// load's pods share no volume: `gatecrash load --log-result` prints the result between these
// markers, base64 of gzipped JSON in lines of 76 characters, and `gatecrash merge --from-logs`
// finds the blocks in `kubectl logs` output — with or without kubectl's --prefix, with the
// blocks of several pods interleaved line by line.
const (
	logBegin = "-----BEGIN GATECRASH RESULT-----"
	logEnd   = "-----END GATECRASH RESULT-----"
)

// WriteLogBlock writes r as a log block.
func WriteLogBlock(w io.Writer, r *Result) error {
	if r.Schema == "" {
		r.Schema = Schema
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if err := json.NewEncoder(zw).Encode(r); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	enc := base64.StdEncoding.EncodeToString(gz.Bytes())
	var b strings.Builder
	b.WriteString(logBegin + "\n")
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\n" + logEnd + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// MaxLogBlockBytes bounds the text of the result blocks ReadLogBlocks holds open at once (a
// compressed result is a few hundred kilobytes; a BEGIN line without its END must not fill
// the memory).
const MaxLogBlockBytes = 64 << 20

// ReadLogBlocks returns the results of every complete log block in rd, in the order their
// blocks end. A line's text before a marker is its prefix (kubectl logs --prefix puts
// "[pod/name/container] " there); the block's lines are the following lines with the same
// prefix. A block cut off (a pod killed while printing) is skipped; a block that does not
// decode is an error naming its line.
func ReadLogBlocks(rd io.Reader, name string) ([]*Result, error) {
	type open struct {
		line int
		data strings.Builder
	}
	blocks := map[string]*open{}
	var out []*Result
	var held int // bytes of open blocks: a BEGIN without its END must not grow without bound
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if i := strings.Index(line, logBegin); i >= 0 {
			blocks[line[:i]] = &open{line: n}
			continue
		}
		if i := strings.Index(line, logEnd); i >= 0 {
			b := blocks[line[:i]]
			if b == nil {
				continue
			}
			delete(blocks, line[:i])
			held -= b.data.Len()
			r, err := decodeLogBlock(b.data.String())
			if err != nil {
				return nil, fmt.Errorf("%s:%d: the result block starting here: %w", name, b.line, err)
			}
			out = append(out, r)
			continue
		}
		var into *open
		best := -1
		for prefix, b := range blocks { // the longest prefix that fits: blocks may interleave
			if strings.HasPrefix(line, prefix) && len(prefix) > best {
				into, best = b, len(prefix)
			}
		}
		if into != nil {
			d := strings.TrimSpace(line[best:])
			if held += len(d); held > MaxLogBlockBytes {
				return nil, fmt.Errorf("%s:%d: the result block starting here has over %d bytes and no %s line: a torn log, or not a result block",
					name, into.line, MaxLogBlockBytes, logEnd)
			}
			into.data.WriteString(d)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

func decodeLogBlock(s string) (*Result, error) {
	gz, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64: %v", ErrNotAResult, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("%w: not gzip: %v", ErrNotAResult, err)
	}
	return decode(io.LimitReader(zr, MaxFileSize+1))
}
