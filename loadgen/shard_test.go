package loadgen

import (
	"strings"
	"testing"
)

// TestShardApply: the shards' parts add up to the whole — connections, requests and rate —
// with remainders spread one each over the first shards.
func TestShardApply(t *testing.T) {
	whole := Config{Connections: 10, Requests: 1001, Rate: 3000, BurstSize: 7}
	var conns, bursts int
	var reqs int64
	var rate float64
	var got []int
	for i := range 3 {
		c, err := Shard{I: i, N: 3}.Apply(whole)
		if err != nil {
			t.Fatal(err)
		}
		conns, reqs, rate, bursts = conns+c.Connections, reqs+c.Requests, rate+c.Rate, bursts+c.BurstSize
		got = append(got, c.Connections)
	}
	if conns != 10 || reqs != 1001 || rate != 3000 || bursts != 7 {
		t.Fatalf("parts add up to %d connections, %d requests, %v req/s, bursts of %d", conns, reqs, rate, bursts)
	}
	if got[0] != 4 || got[1] != 3 || got[2] != 3 {
		t.Fatalf("connections split %v, want [4 3 3]", got)
	}
	// A seed given to the whole run gives each shard its own arrivals; none stays none.
	seeds := map[uint64]bool{}
	for i := range 3 {
		c, _ := Shard{I: i, N: 3}.Apply(Config{Connections: 3, Pattern: Poisson, Rate: 30, Seed: 7})
		seeds[c.Seed] = true
		if u, _ := (Shard{I: i, N: 3}).Apply(Config{Connections: 3, Pattern: Poisson, Rate: 30}); u.Seed != 0 {
			t.Errorf("shard %d: seed %d drawn from none", i, u.Seed)
		}
	}
	if len(seeds) != 3 || !seeds[7] {
		t.Errorf("shards' seeds %v; want three, the first the run's", seeds)
	}
	if _, err := (Shard{I: 0, N: 4}).Apply(Config{Connections: 3}); err == nil || !strings.Contains(err.Error(), "cannot be split 4 ways") {
		t.Fatalf("3 connections over 4 shards: %v", err)
	}
	for _, bad := range []string{"3/3", "-1/2", "1", "a/b", "0/0"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) accepted", bad)
		}
	}
	if s, err := ParseShard(" 2/5"); err != nil || s != (Shard{2, 5}) {
		t.Fatalf("ParseShard(2/5) = %v, %v", s, err)
	}
}
