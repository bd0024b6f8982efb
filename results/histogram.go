package results

import (
	"encoding/json"
	"fmt"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Latency histogram bounds: 1 µs .. 1 h at 3 significant digits, values in microseconds.
const (
	LatencyMin     = 1
	LatencyMax     = int64(time.Hour / time.Microsecond)
	LatencySigFigs = 3
)

// Histogram is a latency histogram in microseconds. In JSON it is a string in the standard
// HdrHistogram V2 compressed base64 encoding ("HISTF..."), which other HdrHistogram tools read.
type Histogram struct {
	*hdrhistogram.Histogram
}

// NewHistogram returns an empty latency histogram.
func NewHistogram() *Histogram {
	return &Histogram{hdrhistogram.New(LatencyMin, LatencyMax, LatencySigFigs)}
}

// RecordDuration records d, clamped into the histogram's range.
func (h *Histogram) RecordDuration(d time.Duration) {
	us := d.Microseconds()
	h.RecordValue(min(max(us, LatencyMin), LatencyMax))
}

// Quantile returns the latency at quantile q (0..100) as a duration.
func (h *Histogram) Quantile(q float64) time.Duration {
	return time.Duration(h.ValueAtQuantile(q)) * time.Microsecond
}

// MaxDuration returns the largest recorded latency.
func (h *Histogram) MaxDuration() time.Duration {
	return time.Duration(h.Max()) * time.Microsecond
}

// MarshalJSON encodes the histogram as its compressed base64 string.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return nil, fmt.Errorf("encoding histogram: %w", err)
	}
	return json.Marshal(string(b))
}

// UnmarshalJSON decodes a compressed base64 histogram.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("latency histogram must be a base64 string: %w", err)
	}
	d, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		return fmt.Errorf("decoding latency histogram: %w", err)
	}
	h.Histogram = d
	return nil
}
