package loadgen

import (
	"fmt"
	"strconv"
	"strings"
)

// Shard is one of N side-by-side load generators of one run: shard I of N does its part of the
// rate, the connections and the request count.
type Shard struct{ I, N int }

// ParseShard reads "I/N" (0 <= I < N).
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("%q is not a shard; give I/N with 0 <= I < N, e.g. 0/3 (Kubernetes: $(JOB_COMPLETION_INDEX)/3)", s)
	}
	return Shard{I: i, N: n}, nil
}

// part returns shard i's part of total split n ways: the remainder goes one each to the
// first shards, so the parts add up to total and differ by at most one.
func part(total int64, i, n int) int64 {
	p := total / int64(n)
	if int64(i) < total%int64(n) {
		p++
	}
	return p
}

// Apply returns cfg with this shard's part of the load: connections and the request count
// split with the remainders spread over the first shards (none lost), the rate divided
// evenly. Every shard needs at least one connection, and one request when a count is set.
func (s Shard) Apply(cfg Config) (Config, error) {
	if s.N <= 1 {
		return cfg, nil
	}
	if cfg.Connections < s.N {
		return cfg, &FieldError{Field: "shard", Msg: fmt.Sprintf("%d connections cannot be split %d ways; give --connections %d or more (the whole run's)", cfg.Connections, s.N, s.N)}
	}
	if cfg.Requests > 0 && cfg.Requests < int64(s.N) {
		return cfg, &FieldError{Field: "shard", Msg: fmt.Sprintf("%d requests cannot be split %d ways", cfg.Requests, s.N)}
	}
	if cfg.BurstSize > 0 && cfg.BurstSize < s.N {
		return cfg, &FieldError{Field: "shard", Msg: fmt.Sprintf("a burst of %d cannot be split %d ways", cfg.BurstSize, s.N)}
	}
	cfg.Connections = int(part(int64(cfg.Connections), s.I, s.N))
	if cfg.Requests > 0 {
		cfg.Requests = part(cfg.Requests, s.I, s.N)
	}
	if cfg.Rate > 0 {
		cfg.Rate /= float64(s.N)
	}
	if cfg.Seed != 0 {
		// One seed for the whole run: each shard its own stream (the same arrivals on every
		// shard would be one Poisson process sent N times, not N independent ones).
		cfg.Seed += uint64(s.I) * 0x9e3779b97f4a7c15
	}
	if cfg.BurstSize > 0 {
		cfg.BurstSize = int(part(int64(cfg.BurstSize), s.I, s.N))
	}
	return cfg, nil
}
