// Package soak keeps a long run's figures safe while it goes: it takes snapshots of the
// running result on a ticker and writes them as checkpoints (the result file, atomically,
// marked partial) and as intervals of an HdrHistogram interval log. It knows results, not
// the engine that produces them: the caller hands it a snapshot function.
package soak

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/gatecrash/gatecrash/internal/files"
	"github.com/gatecrash/gatecrash/results"
)

// DefaultInterval is how often a checkpoint and a log interval are written by default.
const DefaultInterval = 10 * time.Second

// Options say what to write while a run goes. Zero values turn a part off.
type Options struct {
	// Checkpoint is the result file to rewrite every Interval ("" for none; none either when
	// Interval is 0: the caller writes the result at the end only).
	Checkpoint string
	// Hlog is the interval histogram log file to create ("" for none). It gets an interval
	// every Interval, or every DefaultInterval when Interval is 0.
	Hlog string
	// Resumes is the last checkpoint of the run's previous segment when this run goes on
	// with it (nil for a new run): an interval log it left at Hlog is continued — trimmed to
	// what that checkpoint holds, then appended to on the same time line — not replaced.
	Resumes *results.Result
	// Interval is how often to snapshot.
	Interval time.Duration
	// Log receives one line per distinct write error (a full disk must not pass unnoticed,
	// nor fill the terminal). Nil discards.
	Log io.Writer
}

// Keeper snapshots a run on a ticker. Start it with Start, end it with Finish.
type Keeper struct {
	opts Options
	snap func() *results.Result
	hlog *results.IntervalLog
	file *os.File   // the interval log's file
	mu   sync.Mutex // orders writes: the ticker's and Finish's
	stop chan struct{}
	done chan struct{}
	last string // the last error reported
	errs []error
}

// Start creates the interval log and begins taking a snapshot every interval. snap returns
// the result so far (nil when there is nothing yet). With nothing to write it does nothing.
func Start(opts Options, snap func() *results.Result) (*Keeper, error) {
	if opts.Interval <= 0 {
		opts.Checkpoint, opts.Interval = "", DefaultInterval
	}
	k := &Keeper{opts: opts, snap: snap, stop: make(chan struct{}), done: make(chan struct{})}
	if opts.Hlog != "" {
		if err := k.openHlog(); err != nil {
			return nil, err
		}
	}
	if opts.Checkpoint == "" && k.hlog == nil {
		close(k.done)
		return k, nil
	}
	go func() {
		defer close(k.done)
		t := time.NewTicker(opts.Interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if r := snap(); r != nil {
					k.write(r, true)
				}
			case <-k.stop:
				return
			}
		}
	}()
	return k, nil
}

// openHlog creates the interval log, or continues the one the previous segment left.
func (k *Keeper) openHlog() error {
	path, prev := k.opts.Hlog, k.opts.Resumes
	if prev != nil && prev.Run != nil {
		if _, err := os.Stat(path); err == nil {
			old, err := files.Read(path, "interval log", results.MaxIntervalLogSize, nil)
			if err != nil {
				return err
			}
			kept, base, err := results.TrimIntervalLog(old, prev.Run.ID, prev.End)
			if err != nil {
				return fmt.Errorf("%s: %w; give another --hlog for this segment", path, err)
			}
			if err := files.WriteAtomic(path, kept, 0o644); err != nil {
				return fmt.Errorf("interval log: %w", err)
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return fmt.Errorf("interval log: %w", err)
			}
			k.file, k.hlog = f, results.AppendIntervalLog(f, base)
			return nil
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("interval log: %w", err)
	}
	k.file, k.hlog = f, results.NewIntervalLog(f)
	return nil
}

// Finish stops the ticker, writes the last log interval from the final result (so that the
// log's intervals add up to it) and closes the log. The caller writes the final result file
// itself. It returns the write errors seen, each once.
func (k *Keeper) Finish(final *results.Result) error {
	select {
	case <-k.stop:
	default:
		close(k.stop)
	}
	<-k.done
	if final != nil && k.hlog != nil {
		k.write(final, false)
	}
	if k.file != nil {
		k.report(k.file.Close())
		k.file = nil
	}
	return errors.Join(k.errs...)
}

func (k *Keeper) write(r *results.Result, checkpoint bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	// The interval first, on disk, then the checkpoint: a kill between the two leaves an
	// interval the checkpoint does not hold, which a resume trims (TrimIntervalLog); the other
	// order would leave a checkpoint with requests no interval holds.
	if k.hlog != nil {
		err := k.hlog.Add(r)
		if err == nil {
			err = k.file.Sync()
		}
		k.report(err)
	}
	if checkpoint && k.opts.Checkpoint != "" {
		k.report(r.WriteFile(k.opts.Checkpoint))
	}
}

func (k *Keeper) report(err error) {
	if err == nil || err.Error() == k.last {
		return
	}
	k.last = err.Error()
	k.errs = append(k.errs, err)
	if k.opts.Log != nil {
		fmt.Fprintf(k.opts.Log, "checkpoint: %v (the run goes on)\n", err)
	}
}
