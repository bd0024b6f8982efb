package scenarios

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/gatecrash/gatecrash/internal/yamlconf"
	"github.com/gatecrash/gatecrash/results"
)

// segment is what one variant runs now: its run identity and segment number, the file it
// writes, and the segments an earlier, killed run left (done is set when nothing is left).
type segment struct {
	info    results.RunInfo
	json    string
	earlier []*results.Result
	done    *results.Result
}

// segmentFile names segment n of a variant's result in the run folder, as gatecrash load
// names a resumed run's segments (results.SegmentPath).
func segmentFile(dir, variant string, n int) string {
	return results.SegmentPath(filepath.Join(dir, variant+".json"), n)
}

// readSegments reads a variant's segment files, in order, up to the first missing one.
func readSegments(dir, variant string) ([]*results.Result, error) {
	var out []*results.Result
	for _, path := range results.SegmentFiles(segmentFile(dir, variant, 0)) {
		r, err := results.ReadFile(path)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// folderRunID is the run id of the results already in dir, or a new one.
func folderRunID(dir string, variants []*Variant) (string, error) {
	for _, v := range variants {
		if r, err := results.ReadFile(segmentFile(dir, v.Name, 0)); err == nil && r.Run != nil && r.Run.ID != "" {
			return r.Run.ID, nil
		}
	}
	return results.NewRunID()
}

// planVariant decides what variant v runs now. Without resume it is segment 0 — and a
// partial result already in the folder (a killed run) is an error, not overwritten. With
// resume, a finished variant is kept as it is, a partial or interrupted one goes on as its
// next segment for what is left of its duration or requests (v.Load is set to that), and one
// not started is segment 0.
func planVariant(dir string, v *Variant, runID string, resume bool) (segment, error) {
	segs, err := readSegments(dir, v.Name)
	if err != nil {
		return segment{}, fmt.Errorf("variant %s: %w", v.Name, err)
	}
	fresh := segment{info: results.RunInfo{ID: runID, PlannedSeconds: results.Seconds(v.Load.Duration.D()), PlannedRequests: v.Load.Requests},
		json: segmentFile(dir, v.Name, 0)}
	if len(segs) == 0 {
		return fresh, nil
	}
	last := segs[len(segs)-1]
	if !resume {
		if last.Partial {
			return segment{}, fmt.Errorf("%w: the run folder %s holds a partial result of variant %s (a run killed at %s): continue it with --resume, or give another --out",
				ErrSelection, dir, v.Name, last.End.UTC().Format(time.RFC3339))
		}
		return fresh, nil // a finished run in the folder is measured again, as before
	}
	whole := last
	if len(segs) > 1 {
		if whole, err = results.Merge(segs...); err != nil {
			return segment{}, fmt.Errorf("variant %s: adding up its segments: %w", v.Name, err)
		}
	} else if last.Run != nil {
		whole.Segments = []int{last.Run.Segment}
	}
	if !last.Partial && !last.Interrupted {
		return segment{done: whole}, nil
	}
	if last.Run == nil {
		return segment{}, fmt.Errorf("%w: variant %s: %s has no run id (written by an older gatecrash); it cannot be resumed",
			ErrSelection, v.Name, segmentFile(dir, v.Name, len(segs)-1))
	}
	info := results.NextSegment(last)
	d, requests, done := info.Left()
	if d > 0 {
		v.Load.Duration = yamlconf.Duration(d)
	}
	if requests > 0 {
		v.Load.Requests = requests
	}
	if done {
		return segment{done: whole}, nil // killed right at its end: nothing is left to run
	}
	return segment{info: info, json: segmentFile(dir, v.Name, info.Segment), earlier: segs}, nil
}
