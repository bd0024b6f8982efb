package results

import "sort"

// MaxExemplars is how many exemplars are kept per error class: the first half that occurred
// and the most recent half.
const MaxExemplars = 20

// ExemplarSet keeps the first MaxExemplars/2 exemplars added and the last MaxExemplars/2, in
// bounded memory.
type ExemplarSet struct {
	first []Exemplar
	ring  []Exemplar
	next  int // ring write position
}

// Add offers e to the set.
func (s *ExemplarSet) Add(e Exemplar) {
	half := MaxExemplars / 2
	if len(s.first) < half {
		s.first = append(s.first, e)
		return
	}
	if len(s.ring) < half {
		s.ring = append(s.ring, e)
		return
	}
	s.ring[s.next] = e
	s.next = (s.next + 1) % half
}

// List returns the kept exemplars in time order.
func (s *ExemplarSet) List() []Exemplar {
	out := append(append([]Exemplar{}, s.first...), s.ring...)
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// MergeExemplars combines exemplar lists and keeps the earliest and latest halves.
func MergeExemplars(lists ...[]Exemplar) []Exemplar {
	var all []Exemplar
	for _, l := range lists {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Time.Before(all[j].Time) })
	if len(all) <= MaxExemplars {
		return all
	}
	half := MaxExemplars / 2
	return append(all[:half:half], all[len(all)-half:]...)
}
