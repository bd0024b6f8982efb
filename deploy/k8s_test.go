package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gatecrash/gatecrash/faultserver"
)

type k8sDoc struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Type           string `yaml:"type"`
		CompletionMode string `yaml:"completionMode"`
		Completions    int    `yaml:"completions"`
		Parallelism    int    `yaml:"parallelism"`
		Ports          []struct {
			NodePort int `yaml:"nodePort"`
		} `yaml:"ports"`
		Template struct {
			Spec struct {
				Containers []struct {
					Image string   `yaml:"image"`
					Args  []string `yaml:"args"`
					Env   []struct {
						Name  string `yaml:"name"`
						Value string `yaml:"value"`
					} `yaml:"env"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type kustomization struct {
	Resources []string `yaml:"resources"`
	Patches   []struct {
		Target struct {
			Kind string `yaml:"kind"`
			Name string `yaml:"name"`
		} `yaml:"target"`
		Patch string `yaml:"patch"`
	} `yaml:"patches"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestKubernetesManifests: the kustomize base lists files that exist and parse; the origin's
// ConfigMap is a fault config the server accepts; the admin Service stays inside the cluster;
// the load is an Indexed Job whose shard count matches its completions and parallelism (in the
// base and after the example overlay's patch); and every gatecrash container's command and
// flags exist in the CLI, with Kubernetes' $(VAR) references filled in as Kubernetes would.
func TestKubernetesManifests(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildLikeDockerfile(t, "k8s-test")
	var base kustomization
	readYAML(t, "k8s/base/kustomization.yaml", &base)
	docs := map[string]k8sDoc{}
	for _, r := range base.Resources {
		var d k8sDoc
		readYAML(t, filepath.Join("k8s/base", r), &d)
		docs[d.Kind+"/"+d.Metadata.Name] = d
	}
	cm, ok := docs["ConfigMap/gatecrash-origin"]
	if !ok {
		t.Fatal("no ConfigMap gatecrash-origin")
	}
	if _, err := faultserver.ParseConfig([]byte(cm.Data["faults.yaml"]), "faults.yaml"); err != nil {
		t.Fatalf("the origin's fault config: %v", err)
	}
	admin := docs["Service/gatecrash-origin-admin"]
	if admin.Spec.Type != "ClusterIP" || len(admin.Spec.Ports) != 1 || admin.Spec.Ports[0].NodePort != 0 {
		t.Fatalf("the admin Service must be cluster-internal: %+v", admin.Spec)
	}
	job, ok := docs["Job/gatecrash-load"]
	if !ok || job.Spec.CompletionMode != "Indexed" || job.Spec.Completions != job.Spec.Parallelism {
		t.Fatalf("the load must be an Indexed Job with completions = parallelism: %+v", job.Spec)
	}
	env := map[string]string{"JOB_COMPLETION_INDEX": "0", "RUN_ID": "0b7c-uid"}
	for _, e := range job.Spec.Template.Spec.Containers[0].Env {
		if e.Value != "" {
			env[e.Name] = e.Value
		}
	}
	if env["SHARDS"] != strings.TrimSpace(itoa(job.Spec.Completions)) {
		t.Fatalf("SHARDS %s, completions %d", env["SHARDS"], job.Spec.Completions)
	}
	for key, d := range docs {
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Image != "gatecrash" {
				continue
			}
			args := make([]string, len(c.Args))
			for i, a := range c.Args {
				for k, v := range env {
					a = strings.ReplaceAll(a, "$("+k+")", v)
				}
				if strings.Contains(a, "$(") {
					t.Errorf("%s: %q refers to a variable the pod does not have", key, c.Args[i])
				}
				args[i] = a
			}
			checkCommand(t, bin, key, args)
		}
	}
	var overlay kustomization
	readYAML(t, "k8s/overlays/example/kustomization.yaml", &overlay)
	if !slices.Contains(overlay.Resources, "../../base") || !slices.Contains(overlay.Resources, "namespace.yaml") {
		t.Fatalf("overlay: %+v; want the base and its own namespace", overlay)
	}
	var ops []struct {
		Path  string `yaml:"path"`
		Value any    `yaml:"value"`
	}
	for _, p := range overlay.Patches {
		if p.Target.Kind == "Job" {
			if err := yaml.Unmarshal([]byte(p.Patch), &ops); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := map[string]string{}
	for _, op := range ops {
		got[op.Path] = strings.TrimSpace(toString(op.Value))
	}
	if e := job.Spec.Template.Spec.Containers[0].Env; len(e) < 2 || e[0].Name != "TARGET_URL" || e[1].Name != "SHARDS" {
		t.Fatalf("the overlay patches env/0 as TARGET_URL and env/1 as SHARDS; the base has %+v", e)
	}
	n := got["/spec/completions"]
	if n == "" || got["/spec/parallelism"] != n || got["/spec/template/spec/containers/0/env/1/value"] != n {
		t.Fatalf("the overlay must set completions, parallelism and SHARDS alike: %v", got)
	}
}

func itoa(n int) string { return toString(n) }

func toString(v any) string {
	b, _ := yaml.Marshal(v)
	return strings.Trim(strings.TrimSpace(string(b)), `"`)
}
