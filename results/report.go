package results

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Report formats.
const (
	FormatText     = "text"
	FormatMarkdown = "markdown"
	FormatJSON     = "json"
)

// Formats lists the report formats WriteReport accepts.
func Formats() []string { return []string{FormatText, FormatMarkdown, FormatJSON, FormatHTML} }

// WriteReport writes rs in format: text (a summary per result, then the comparison), markdown
// (the same, for a pull request or an incident ticket), json (the figures, for scripts) or
// html (one self-contained file with plots).
func WriteReport(w io.Writer, rs []*Result, format string) error {
	switch format {
	case FormatText:
		return writeText(w, rs)
	case FormatMarkdown:
		return writeMarkdown(w, rs)
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(summarize(rs))
	case FormatHTML:
		return WriteHTML(w, rs)
	}
	return fmt.Errorf("unknown report format %q; allowed: %s", format, strings.Join(Formats(), ", "))
}

func title(r *Result) string {
	parts := []string{}
	if r.Scenario != "" {
		parts = append(parts, r.Scenario)
	}
	if r.Variant != "" {
		parts = append(parts, r.Variant)
	}
	if len(parts) == 0 {
		return r.Target.URL
	}
	return strings.Join(parts, " / ")
}

func writeText(w io.Writer, rs []*Result) error {
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "== %s\n", title(r))
		if err := WriteSummary(&b, r); err != nil {
			return err
		}
	}
	if len(rs) > 1 {
		b.WriteString("\n== comparison\n")
		if err := WriteComparison(&b, rs); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMarkdown(w io.Writer, rs []*Result) error {
	var b strings.Builder
	b.WriteString("# gatecrash report\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "\n## %s\n\n", title(r))
		fmt.Fprintf(&b, "`%s %s` — %s, %s; %s requests in %s",
			r.Target.Method, r.Target.URL, r.Target.Pattern, r.Target.ConnectionsText(), FormatCount(r.Requests), FormatDuration(r.Duration()))
		if r.Interrupted {
			b.WriteString(" (**interrupted**)")
		}
		if r.Partial {
			fmt.Fprintf(&b, " (**partial: a checkpoint up to %s**)", r.End.UTC().Format("2006-01-02 15:04:05Z"))
		}
		if r.Failure != "" {
			fmt.Fprintf(&b, " (**ended early: %s**)", r.Failure)
		}
		if mf := r.MergedFrom(); mf != "" {
			fmt.Fprintf(&b, "; %s", mf)
		}
		if tl := r.TimeLine(); tl != "" {
			fmt.Fprintf(&b, "; **%s**", tl)
		}
		b.WriteString(".\n\n| class | count | share | 95% interval | p50 | p90 | p99 | p99.9 | max | first at |\n")
		b.WriteString("|---|--:|--:|---|--:|--:|--:|--:|--:|--:|\n")
		for _, c := range Classes() {
			o := r.Outcomes[c]
			if o == nil || o.Count == 0 {
				continue
			}
			iv, first := "", ""
			if c.IsError() {
				iv = RateInterval(o.Count, r.Requests).String()
				first = "+" + FormatDuration(o.First.Sub(r.Start))
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", c, FormatCount(o.Count),
				FormatShare(o.Count, r.Requests), iv, FormatDuration(o.Latency.Quantile(50)), FormatDuration(o.Latency.Quantile(90)),
				FormatDuration(o.Latency.Quantile(99)), FormatDuration(o.Latency.Quantile(99.9)), FormatDuration(o.Latency.MaxDuration()), first)
		}
		if re := r.ReusedErrors(); len(re) > 0 {
			fmt.Fprintf(&b, "\nErrors on reused connections: %s (stale: the peer's close was there before the request "+
				"was written — the client's pool; race: it came after).\n", strings.Join(re, "; "))
		}
		if r.Target.Client != "" {
			fmt.Fprintf(&b, "\nClient model `%s`: %s stale connections discarded before reuse.\n", r.Target.Client,
				FormatCount(r.Connections.StaleDiscarded))
		}
		if o, ok := r.OriginTruth(); ok {
			fmt.Fprintf(&b, "\nOrigin ground truth: %s requests seen; faults injected: %s.\n", FormatCount(int64(o.RequestsStarted)), faultList(o))
			if o.Relay != nil {
				fmt.Fprintf(&b, "\nRelay: %s.\n", o.Relay.Sentence())
			}
		}
		if names := logNames([]*Result{r}); len(names) > 0 {
			b.WriteString("\nProxy log:\n\n")
			for _, n := range names {
				fmt.Fprintf(&b, "- `%s`: %s\n", n, FormatCount(r.ProxyLog[n]))
			}
		}
	}
	if len(rs) > 1 {
		b.WriteString("\n## Comparison\n\n```\n")
		if err := WriteComparison(&b, rs); err != nil {
			return err
		}
		b.WriteString("```\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// jsonSummary is the json report: the figures of each result, and the pairwise verdicts.
type jsonSummary struct {
	Results     []jsonResult `json:"results"`
	Differences []jsonDiff   `json:"differences,omitempty"`
}

type jsonResult struct {
	Scenario        string                `json:"scenario,omitempty"`
	Variant         string                `json:"variant,omitempty"`
	URL             string                `json:"url"`
	Requests        int64                 `json:"requests"`
	DurationSeconds float64               `json:"duration_seconds"`
	ActiveSeconds   float64               `json:"active_seconds"`
	DowntimeSeconds float64               `json:"downtime_seconds,omitempty"`
	Achieved        float64               `json:"achieved_per_second"`
	MergedFrom      string                `json:"merged_from,omitempty"`
	Interrupted     bool                  `json:"interrupted,omitempty"`
	Partial         bool                  `json:"partial,omitempty"`
	Failure         string                `json:"failure,omitempty"`
	Client          string                `json:"client,omitempty"`
	StaleDiscarded  int64                 `json:"stale_discarded,omitempty"`
	Outcomes        map[Class]jsonOutcome `json:"outcomes"`
	FaultsInjected  map[string]uint64     `json:"faults_injected,omitempty"`
	ProxyLog        map[string]int64      `json:"proxy_log,omitempty"`
}

type jsonOutcome struct {
	Count   int64   `json:"count"`
	Rate    float64 `json:"rate"`
	Lo      float64 `json:"rate_lo"`
	Hi      float64 `json:"rate_hi"`
	P50us   int64   `json:"p50_us"`
	P90us   int64   `json:"p90_us"`
	P99us   int64   `json:"p99_us"`
	P999us  int64   `json:"p99_9_us"`
	MaxUs   int64   `json:"max_us"`
	FirstAt float64 `json:"first_at_seconds"`
	Stale   int64   `json:"stale,omitempty"`
	Race    int64   `json:"race,omitempty"`
}

type jsonDiff struct {
	Class       Class   `json:"class"`
	A           string  `json:"a"`
	B           string  `json:"b"`
	P           float64 `json:"p"`
	Significant bool    `json:"significant"`
	Verdict     string  `json:"verdict"`
}

func summarize(rs []*Result) jsonSummary {
	var s jsonSummary
	for _, r := range rs {
		jr := jsonResult{Scenario: r.Scenario, Variant: r.Variant, URL: r.Target.URL, Requests: r.Requests,
			DurationSeconds: r.Duration().Seconds(), ActiveSeconds: r.Active().Seconds(), DowntimeSeconds: r.Downtime().Seconds(),
			Achieved: r.Achieved(), MergedFrom: r.MergedFrom(), Interrupted: r.Interrupted, Partial: r.Partial, Failure: r.Failure, Client: r.Target.Client,
			StaleDiscarded: r.Connections.StaleDiscarded, Outcomes: map[Class]jsonOutcome{}, ProxyLog: r.ProxyLog}
		for c, o := range r.Outcomes {
			iv := RateInterval(o.Count, r.Requests)
			jr.Outcomes[c] = jsonOutcome{Count: o.Count, Rate: iv.Rate, Lo: iv.Lo, Hi: iv.Hi,
				P50us: o.Latency.ValueAtQuantile(50), P90us: o.Latency.ValueAtQuantile(90), P99us: o.Latency.ValueAtQuantile(99),
				P999us: o.Latency.ValueAtQuantile(99.9), MaxUs: o.Latency.Max(), FirstAt: o.First.Sub(r.Start).Seconds(),
				Stale: o.Stale, Race: o.Race}
		}
		if o, ok := r.OriginTruth(); ok {
			jr.FaultsInjected = o.Faults
		}
		s.Results = append(s.Results, jr)
	}
	for _, d := range Differences(rs) {
		s.Differences = append(s.Differences, jsonDiff{Class: d.Class, A: name(d.A), B: name(d.B), P: d.P,
			Significant: d.Significant(), Verdict: d.String()})
	}
	return s
}
