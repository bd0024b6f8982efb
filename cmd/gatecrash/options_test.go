package main

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatecrash/gatecrash/internal/yamlconf"
	"github.com/gatecrash/gatecrash/loadgen"
	"github.com/gatecrash/gatecrash/results"
)

// execute runs cmd with args and fails the test on an error.
func execute(t *testing.T, cmd *cobra.Command, args ...string) {
	t.Helper()
	cmd.SetArgs(args)
	cmd.SetContext(context.Background())
	if err := cmd.Execute(); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
}

// Each command's flags land in its options struct as documented: the runF hooks stop at the
// options, so these tests need no server, proxy or file.
func TestFlagsFillOptions(t *testing.T) {
	t.Parallel()
	t.Run("load", func(t *testing.T) {
		var got *LoadOptions
		execute(t, newLoadCmd(func(_ context.Context, o *LoadOptions) error { got = o; return nil }),
			"http://127.0.0.1:8080/x", "--pattern", "constant", "--rate", "250", "--duration", "2s", "-H", "A: b",
			"--method", "post", "--body-size", "64", "--connections", "3", "--out", "r.json", "--timeout", "1500ms")
		want := loadgen.Config{URL: "http://127.0.0.1:8080/x", Pattern: loadgen.Constant, Rate: 250, Duration: yamlconf.Duration(2 * time.Second),
			Headers: []string{"A: b"}, Method: "POST", BodySize: 64, Connections: 3, Timeout: yamlconf.Duration(1500 * time.Millisecond),
			ConnectTimeout: loadgen.DefaultConnectTimeout, Grace: loadgen.DefaultGrace, BurstPause: loadgen.DefaultBurstPause,
			Client: string(loadgen.Checked)}
		if !reflect.DeepEqual(got.Config, want) || got.Out != "r.json" {
			t.Fatalf("options\n got %+v\nwant %+v", got.Config, want)
		}
	})
	t.Run("load --requests alone runs by count", func(t *testing.T) {
		var got *LoadOptions
		execute(t, newLoadCmd(func(_ context.Context, o *LoadOptions) error { got = o; return nil }), "http://h/", "--requests", "50")
		if got.Config.Duration != 0 || got.Config.Requests != 50 {
			t.Fatalf("duration %v, requests %d; want 0 and 50", got.Config.Duration, got.Config.Requests)
		}
	})
	t.Run("serve", func(t *testing.T) {
		var got *ServeOptions
		execute(t, newServeCmd(func(_ context.Context, o *ServeOptions) error { got = o; return nil }),
			"--header-faults", "off", "--fault", "status:code=500", "--seed", "7", "--listen", "127.0.0.1:0")
		if got.HeaderFaults != "off" || got.Seed == nil || *got.Seed != 7 || !slices.Equal(got.Faults, []string{"status:code=500"}) ||
			got.Status != nil || got.Listen != "127.0.0.1:0" {
			t.Fatalf("options %+v", got)
		}
		cfg, err := buildServeConfig(got)
		if err != nil || *cfg.FaultHeader || cfg.Seed != 7 || len(cfg.Faults) != 1 {
			t.Fatalf("config %+v, %v: want header faults off, seed 7, one fault", cfg, err)
		}
	})
	t.Run("run", func(t *testing.T) {
		var got *RunOptions
		execute(t, newRunCmd(func(_ context.Context, o *RunOptions) error { got = o; return nil }),
			"keepalive-race", "--proxy", "nginx", "--variant", "fixed", "--variant", "default", "--duration", "3s", "-q")
		if got.Scenario != "keepalive-race" || got.Proxy != "nginx" || !slices.Equal(got.Variants, []string{"fixed", "default"}) ||
			got.Duration != 3*time.Second || !got.Quiet || got.Progress {
			t.Fatalf("options %+v", got)
		}
	})
	t.Run("report", func(t *testing.T) {
		var got *ReportOptions
		execute(t, newReportCmd(func(_ context.Context, o *ReportOptions) error { got = o; return nil }), "a.json", "b.json", "-f", "markdown")
		if !slices.Equal(got.Files, []string{"a.json", "b.json"}) || got.Format != results.FormatMarkdown {
			t.Fatalf("options %+v", got)
		}
	})
	t.Run("compare", func(t *testing.T) {
		var got *CompareOptions
		execute(t, newCompareCmd(func(_ context.Context, o *CompareOptions) error { got = o; return nil }), "a.json", "b.json")
		if !slices.Equal(got.Files, []string{"a.json", "b.json"}) {
			t.Fatalf("options %+v", got)
		}
	})
	t.Run("merge", func(t *testing.T) {
		var got *MergeOptions
		execute(t, newMergeCmd(func(_ context.Context, o *MergeOptions) error { got = o; return nil }),
			"a.json", "b.json", "-o", "m.json", "--allow-duplicates")
		if !slices.Equal(got.Files, []string{"a.json", "b.json"}) || got.Out != "m.json" || !got.Merge.AllowDuplicates ||
			got.Merge.AllowDifferentTargets {
			t.Fatalf("options %+v", got)
		}
	})
}

// TestShellLine: the command line results and documents record runs again in a shell.
func TestShellLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"matrix", "--budget", "8s", "--out", "bin/matrix"}, "gatecrash matrix --budget 8s --out bin/matrix"},
		{[]string{"run", "./my scenario.yaml"}, "gatecrash run './my scenario.yaml'"},
		{[]string{"load", "http://127.0.0.1:8080/?a=1&b=2", "--header", "X-Y: it's"}, `gatecrash load 'http://127.0.0.1:8080/?a=1&b=2' --header 'X-Y: it'\''s'`},
		{[]string{"serve", ""}, "gatecrash serve ''"},
	} {
		if got := shellLine(tc.args); got != tc.want {
			t.Errorf("shellLine(%q) = %s, want %s", tc.args, got, tc.want)
		}
	}
}
