package loadgen

// h2streams is a connection's open streams by id. A client's stream ids rise by two from 1,
// so id/2 picks a slot in a ring sized for the streams in flight: a lookup, an insert and a
// removal per frame cost an index and a compare instead of a map's hashing (the reader does
// them for every frame it reads). A stream that outlives the slot's turn (a slow one while
// its later neighbours come and go) waits in overflow, a map, until it ends.
type h2streams struct {
	ring     []*h2call // len a power of two
	overflow map[uint32]*h2call
	n        int
}

// newH2Streams sizes the ring for about inflight streams at once.
func newH2Streams(inflight int) h2streams {
	size := 16
	for size < 4*inflight {
		size *= 2
	}
	return h2streams{ring: make([]*h2call, size)}
}

func (s *h2streams) slot(id uint32) **h2call { return &s.ring[int(id>>1)&(len(s.ring)-1)] }

// get returns the open stream id (nil: none).
func (s *h2streams) get(id uint32) *h2call {
	if c := *s.slot(id); c != nil && c.id == id {
		return c
	}
	return s.overflow[id] // nil map: nil
}

// add opens call under call.id.
func (s *h2streams) add(call *h2call) {
	s.n++
	if p := s.slot(call.id); *p == nil {
		*p = call
		return
	}
	if s.overflow == nil {
		s.overflow = map[uint32]*h2call{}
	}
	s.overflow[call.id] = call
}

// remove ends call's stream (no-op when it is not open).
func (s *h2streams) remove(call *h2call) {
	if p := s.slot(call.id); *p == call {
		*p = nil
		s.n--
	} else if s.overflow[call.id] == call {
		delete(s.overflow, call.id)
		s.n--
	}
}

// len is how many streams are open.
func (s *h2streams) len() int { return s.n }

// each calls f for every open stream; f may remove the stream it is given.
func (s *h2streams) each(f func(*h2call)) {
	if s.n == 0 {
		return
	}
	for _, c := range s.ring {
		if c != nil {
			f(c)
		}
	}
	for _, c := range s.overflow {
		f(c)
	}
}
