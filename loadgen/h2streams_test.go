package loadgen

import (
	"math/rand/v2"
	"testing"
)

// TestH2StreamsAgreesWithMap drives the stream table and a map through the same random opens
// and ends — streams that outlive their ring slot's turn included — and checks every lookup,
// the count and the walk agree.
func TestH2StreamsAgreesWithMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := newH2Streams(4) // a ring of 16: ids 1 and 33 share a slot
	want := map[uint32]*h2call{}
	next := uint32(1)
	var open []*h2call
	for step := 0; step < 20000; step++ {
		if len(open) < 40 && (len(open) == 0 || rng.IntN(2) == 0) {
			c := &h2call{id: next}
			next += 2
			s.add(c)
			want[c.id] = c
			open = append(open, c)
		} else {
			// end mostly the oldest, sometimes any: a slow stream stays while others pass it
			i := 0
			if rng.IntN(4) == 0 {
				i = rng.IntN(len(open))
			}
			c := open[i]
			open = append(open[:i], open[i+1:]...)
			s.remove(c)
			s.remove(c) // a second end of the same stream changes nothing
			delete(want, c.id)
		}
		if s.len() != len(want) {
			t.Fatalf("step %d: len %d, want %d", step, s.len(), len(want))
		}
		for _, id := range []uint32{next - 2, next - 34, next, 1 + 2*uint32(rng.IntN(int(next/2)+1))} {
			if got := s.get(id); got != want[id] {
				t.Fatalf("step %d: get(%d) = %v, want %v", step, id, got, want[id])
			}
		}
	}
	if s.overflow == nil {
		t.Fatal("no stream ever outlived its slot's turn: the test did not reach the overflow")
	}
	seen := map[uint32]bool{}
	s.each(func(c *h2call) {
		if want[c.id] != c || seen[c.id] {
			t.Fatalf("each gave stream %d (open %v, seen before %v)", c.id, want[c.id] == c, seen[c.id])
		}
		seen[c.id] = true
		s.remove(c) // f may end the stream it is given
	})
	if len(seen) != len(want) || s.len() != 0 {
		t.Fatalf("each walked %d of %d streams; %d left open", len(seen), len(want), s.len())
	}
}
