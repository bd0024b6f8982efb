package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatecrash/gatecrash/internal/yamlconf"
	"github.com/gatecrash/gatecrash/loadgen"
	"github.com/gatecrash/gatecrash/results"
)

// planSegment decides which run and segment this load is, and where its result goes. A new
// run gets a fresh id and the plan of its flags. A resumed one — --resume FILE, or --out
// naming a partial result that a killed or interrupted load left — continues that run as its
// next segment: same id, what is left of the planned duration and requests, and its own file
// (FILE.segN.json unless --out names another), so the earlier segment is never overwritten.
// prev is the earlier segment's result when this one resumes it.
func planSegment(opts *LoadOptions) (run results.RunInfo, out string, prev *results.Result, err error) {
	cfg := &opts.Config
	from := opts.Resume
	implicit := false
	if from == "" && opts.Out != "" {
		if prev, err := results.ReadFile(opts.Out); err == nil && prev.Partial {
			// The checkpoint of a run that died: go on with it — from its latest segment, when
			// it was resumed before (the same command line, started again: a Kubernetes pod
			// replaced for its index a second time).
			from, implicit = latestSegment(opts.Out), true
		}
	}
	if from == "" {
		info := results.RunInfo{ID: opts.RunID}
		if opts.Shard != "" {
			sh, err := loadgen.ParseShard(opts.Shard)
			if err != nil {
				return results.RunInfo{}, "", nil, fmt.Errorf("--shard: %w", err)
			}
			if opts.RunID == "" {
				return results.RunInfo{}, "", nil, errors.New("--shard: give every shard of the run the same --run-id (e.g. the Kubernetes Job's name), so that merge can tell the run's shards from another run's")
			}
			if *cfg, err = sh.Apply(*cfg); err != nil {
				return results.RunInfo{}, "", nil, fmt.Errorf("--%w", err) // "--shard: ..."
			}
			info.Shard, info.Shards = sh.I, sh.N
		}
		if info.ID == "" {
			id, err := results.NewRunID()
			if err != nil {
				return results.RunInfo{}, "", nil, err
			}
			info.ID = id
		}
		info.PlannedSeconds, info.PlannedRequests = results.Seconds(cfg.Duration.D()), cfg.Requests
		return info, opts.Out, nil, nil
	}
	prev, err = results.ReadFile(from)
	if err != nil {
		return results.RunInfo{}, "", nil, fmt.Errorf("--resume: %w", err)
	}
	if opts.Shard != "" || opts.RunID != "" {
		// The same command line started again may name its shard and run: they must be the
		// run's. An explicit --resume keeps them from the file.
		if !implicit || !sameShard(opts, prev) {
			return results.RunInfo{}, "", nil, fmt.Errorf("--resume: %s is shard %s of run %s; a resumed segment keeps its run's id and shard "+
				"(leave --shard and --run-id out, or give the run's own)", from, shardOf(prev), runIDOf(prev))
		}
	}
	switch {
	case !prev.Partial && !prev.Interrupted:
		return results.RunInfo{}, "", nil, fmt.Errorf("--resume: %s is a finished result (the run ended at %s); nothing is left to resume; start a new run with another --out",
			from, prev.End.UTC().Format(time.RFC3339))
	case prev.Run == nil || prev.Run.ID == "":
		return results.RunInfo{}, "", nil, fmt.Errorf("--resume: %s has no run id (written by an older gatecrash, or merged from different runs); it cannot be resumed", from)
	case len(prev.Segments) > 0:
		return results.RunInfo{}, "", nil, fmt.Errorf("--resume: %s is a merge of segments %v; resume from the last segment's own file", from, prev.Segments)
	}
	var diffs []string
	for _, d := range []struct{ name, was, now string }{
		{"URL", prev.Target.URL, cfg.URL}, {"--method", prev.Target.Method, cfg.Method}, {"--pattern", prev.Target.Pattern, string(cfg.Pattern)},
	} {
		if d.was != d.now {
			diffs = append(diffs, fmt.Sprintf("%s was %q, now %q", d.name, d.was, d.now))
		}
	}
	if len(diffs) > 0 {
		return results.RunInfo{}, "", nil, fmt.Errorf("--resume: %s measured another load (%s); a segment must load what the run loaded", from, strings.Join(diffs, "; "))
	}
	run = results.NextSegment(prev)
	// What is left of the plan; the duration and request flags of this command are not used.
	d, requests, done := run.Left()
	if done {
		return results.RunInfo{}, "", nil, fmt.Errorf("--resume: the run's plan (%s, %d requests; 0: no bound) is covered by its segments (%s, %d requests); nothing is left to run",
			time.Duration(run.PlannedSeconds), run.PlannedRequests, time.Duration(run.BeforeSeconds).Round(time.Millisecond), run.BeforeRequests)
	}
	if opts.Shard != "" {
		// The whole run's flags, as the shard was first started with: its part again.
		sh, _ := loadgen.ParseShard(opts.Shard) // checked by sameShard
		if *cfg, err = sh.Apply(*cfg); err != nil {
			return results.RunInfo{}, "", nil, fmt.Errorf("--%w", err)
		}
	}
	cfg.Duration, cfg.Requests = yamlconf.Duration(d), requests
	out = opts.Out
	if out == "" || implicit || sameFile(out, from) {
		out = results.SegmentPath(from, run.Segment)
	}
	if _, err := os.Stat(out); err == nil {
		return results.RunInfo{}, "", nil, fmt.Errorf("--resume: segment %d's file %s exists already; was this segment resumed before? resume from it, or give --out", run.Segment, out)
	}
	return run, out, prev, nil
}

// latestSegment returns the file of the latest segment of the run whose first file is out:
// out.seg1.json, out.seg2.json, ... as far as they exist.
func latestSegment(out string) string {
	files := results.SegmentFiles(out)
	if len(files) == 0 {
		return out
	}
	return files[len(files)-1]
}

// sameShard reports whether the --shard and --run-id of opts are prev's (those left out match).
func sameShard(opts *LoadOptions, prev *results.Result) bool {
	if prev.Run == nil {
		return false
	}
	if opts.RunID != "" && opts.RunID != prev.Run.ID {
		return false
	}
	if opts.Shard != "" {
		sh, err := loadgen.ParseShard(opts.Shard)
		if err != nil || sh.I != prev.Run.Shard || sh.N != max(prev.Run.Shards, 1) {
			return false
		}
	}
	return true
}

func shardOf(r *results.Result) string {
	if r.Run == nil {
		return "?"
	}
	return fmt.Sprintf("%d/%d", r.Run.Shard, max(r.Run.Shards, 1))
}

func runIDOf(r *results.Result) string {
	if r.Run == nil {
		return "(none)"
	}
	return r.Run.ID
}

func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	return filepath.Clean(a) == filepath.Clean(b)
}
