package results

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteSummary writes the end-of-run table: per class the count, its share of requests, the
// latency p50/p99/p99.9/max, and for error classes when the first one happened.
func WriteSummary(w io.Writer, r *Result) error {
	d, rate := r.Duration(), r.Achieved()
	var b strings.Builder
	fmt.Fprintf(&b, "target       %s %s", r.Target.Method, r.Target.URL)
	if n := r.Target.Targets; n > 1 {
		fmt.Fprintf(&b, " and %d more targets in turn", n-1)
	}
	fmt.Fprintf(&b, " (%s, %s", r.Target.Pattern, r.Target.ConnectionsText())
	if r.Target.Rate > 0 {
		fmt.Fprintf(&b, ", %s/s target", FormatCount(int64(r.Target.Rate)))
	}
	b.WriteString(")\n")
	fmt.Fprintf(&b, "duration     %s   requests %s   achieved %.1f/s", FormatDuration(d), FormatCount(r.Requests), rate)
	if r.Late > 0 || r.Target.Rate > 0 {
		fmt.Fprintf(&b, "   late starts %s", FormatCount(r.Late))
		if l := r.StartLag; l != nil && l.TotalCount() > 0 {
			fmt.Fprintf(&b, " (start lag p50 %s, p99 %s)", FormatDuration(l.Quantile(50)), FormatDuration(l.Quantile(99)))
		}
	}
	if r.Unsent > 0 {
		fmt.Fprintf(&b, "   UNSENT %s (due before the end, never started: every connection was busy)", FormatCount(r.Unsent))
	}
	b.WriteString("\n")
	if tl := r.TimeLine(); tl != "" {
		fmt.Fprintf(&b, "time         %s\n", tl)
	}
	fmt.Fprintf(&b, "connections  %s opened, %s requests on reused connections",
		FormatCount(r.Connections.Opened), FormatCount(r.Connections.ReusedRequests))
	if r.Target.Client != "" {
		fmt.Fprintf(&b, ", %s stale connections discarded (client %s)", FormatCount(r.Connections.StaleDiscarded), r.Target.Client)
	}
	b.WriteString("\n")
	if r.Failure != "" {
		fmt.Fprintf(&b, "FAILED       %s; results cover the run up to then\n", r.Failure)
	}
	if mf := r.MergedFrom(); mf != "" {
		fmt.Fprintf(&b, "merged       %s\n", strings.TrimPrefix(mf, "merged "))
	} else if ri := r.Run; ri != nil && (ri.Shards > 1 || ri.Segment > 0) {
		fmt.Fprintf(&b, "run          %s", ri.ID)
		if ri.Shards > 1 {
			fmt.Fprintf(&b, ", shard %d/%d", ri.Shard, ri.Shards)
		}
		if ri.Segment > 0 {
			fmt.Fprintf(&b, ", segment %d", ri.Segment)
		}
		b.WriteString("\n")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "NOTE         %s\n", n)
	}
	if r.Partial {
		fmt.Fprintf(&b, "PARTIAL      a checkpoint: covers %s up to %s; the run went on after it or died\n",
			FormatDuration(r.Duration()), r.End.UTC().Format("2006-01-02 15:04:05Z"))
	}
	if r.Interrupted && r.Failure == "" {
		fmt.Fprintf(&b, "INTERRUPTED  results cover the run up to the signal")
		if r.Aborted > 0 {
			fmt.Fprintf(&b, "; %d in-flight requests aborted without an outcome", r.Aborted)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "class\tcount\tshare\tp50\tp90\tp99\tp99.9\tmax\tfirst at\t")
	for _, c := range Classes() {
		o := r.Outcomes[c]
		if o == nil || o.Count == 0 {
			continue
		}
		first := ""
		if c.IsError() {
			first = "+" + FormatDuration(o.First.Sub(r.Start))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", c, FormatCount(o.Count), FormatShare(o.Count, r.Requests),
			FormatDuration(o.Latency.Quantile(50)), FormatDuration(o.Latency.Quantile(90)), FormatDuration(o.Latency.Quantile(99)),
			FormatDuration(o.Latency.Quantile(99.9)), FormatDuration(o.Latency.MaxDuration()), first)
	}
	if r.Requests == 0 {
		fmt.Fprintln(tw, "(no requests)\t\t\t\t\t\t\t\t\t")
	}
	tw.Flush()
	writeTargets(&b, r)
	if re := r.ReusedErrors(); len(re) > 0 {
		fmt.Fprintf(&b, "\nreused       errors on reused connections: %s\n", strings.Join(re, "; "))
		b.WriteString("             (stale: the peer's close was there before the request was written — the client's pool; race: it came after)\n")
	}
	if o, ok := r.OriginTruth(); ok {
		fmt.Fprintf(&b, "\norigin       %s requests seen, faults injected: %s\n", FormatCount(int64(o.RequestsStarted)), faultList(o))
		if o.Relay != nil {
			fmt.Fprintf(&b, "relay        %s\n", o.Relay.Sentence())
		}
	}
	for _, n := range logNames([]*Result{r}) {
		fmt.Fprintf(&b, "proxy log    %s: %s\n", n, FormatCount(r.ProxyLog[n]))
	}
	if g := r.Gaps; g != nil {
		if line := g.WorstLine(); line != "" {
			fmt.Fprintf(&b, "\nrace window  worst idle gap %s\n", line)
			if l := g.WindowLine(); l != "" {
				fmt.Fprintf(&b, "             %s\n", l)
			}
		} else {
			fmt.Fprintf(&b, "\nrace window  no errors in any idle-gap bucket (%s–%s)\n", FormatDuration(g.Start(0)), FormatDuration(g.Start(len(g.Buckets))))
		}
		if a := g.AfterError; a.Requests > 0 {
			fmt.Fprintf(&b, "             not in the buckets: %s requests that followed an error (on a new upstream connection, no reuse), %s errors\n",
				FormatCount(a.Requests), FormatCount(a.Errors))
		}
	}
	writeTraced(&b, r)
	_, err := io.WriteString(w, trimLines(b.String()))
	return err
}

// tracedPerClass is how many traced exemplars per error class the summary shows.
const tracedPerClass = 3

// writeTraced lists a few error exemplars per class with the origin event paired with each:
// what the origin did, on which of its connections, and how long before the client saw it.
func writeTraced(b *strings.Builder, r *Result) {
	first := true
	for _, c := range Classes() {
		shown := 0
		for _, e := range r.Exemplars[c] {
			if e.Origin == nil || shown == tracedPerClass {
				continue
			}
			if first {
				b.WriteString("\ntraced       errors paired with the origin's fault events (exemplars in the result JSON):\n")
				first = false
			}
			ev := e.Origin.Event
			how := "nearest before it"
			if e.Origin.SameConnection {
				how = "same connection"
			}
			where := ""
			if ev.AfterBytes != nil {
				where = fmt.Sprintf(" after %d bytes", *ev.AfterBytes)
			}
			fmt.Fprintf(b, "  %-13s %s from %s  ←  origin %s%s on its conn #%d (peer %s, request %d), %s earlier (%s)\n",
				c, e.Time.UTC().Format("15:04:05.000000"), e.Local, ev.Kind, where, ev.Conn, ev.Remote, ev.Request+1,
				FormatDuration(time.Duration(e.Origin.BeforeUs)*time.Microsecond), how)
			shown++
		}
	}
}

// FormatDuration prints a latency compactly: 412µs, 1.21ms, 2.50s, 3m20s.
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + "µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
	}
	return d.Round(time.Second).String()
}

// FormatCount prints n with thousands separators: 1,234,567.
func FormatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// FormatShare prints part/total as a percentage, switching to scientific notation for the
// small rates gatecrash is about: 99.99%, 0.12%, 3.4e-05.
func FormatShare(part, total int64) string {
	if total == 0 {
		return "-"
	}
	f := float64(part) / float64(total)
	if f >= 0.001 {
		return strconv.FormatFloat(100*f, 'f', 2, 64) + "%"
	}
	return strconv.FormatFloat(f, 'e', 1, 64)
}

// trimLines drops the spaces a right-aligned table leaves at the ends of its lines.
func trimLines(s string) string {
	var b strings.Builder
	for l := range strings.Lines(s) {
		b.WriteString(strings.TrimRight(l, " \n"))
		if strings.HasSuffix(l, "\n") {
			b.WriteByte('\n')
		}
	}
	return b.String()
}
