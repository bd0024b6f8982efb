package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// apiTypes are the Kubernetes API types of the objects the manifests hold.
var apiTypes = map[string]func() any{
	"v1/ConfigMap":             func() any { return &corev1.ConfigMap{} },
	"v1/Service":               func() any { return &corev1.Service{} },
	"v1/PersistentVolumeClaim": func() any { return &corev1.PersistentVolumeClaim{} },
	"v1/Namespace":             func() any { return &corev1.Namespace{} },
	"apps/v1/Deployment":       func() any { return &appsv1.Deployment{} },
	"batch/v1/Job":             func() any { return &batchv1.Job{} },
}

// TestManifestsAreKubernetesObjects decodes every manifest into its Kubernetes API type,
// strictly: a misspelt or misplaced field (backoffLimitPerIndex under the pod template, say)
// or a wrong type is an error here rather than at kubectl apply. The PodMonitor, a CRD of
// the Prometheus Operator, is checked for the fields the operator reads.
func TestManifestsAreKubernetesObjects(t *testing.T) {
	t.Parallel()
	paths, _ := filepath.Glob("k8s/*/*.yaml")
	more, _ := filepath.Glob("k8s/overlays/*/*.yaml")
	paths = append(paths, more...)
	seen := map[string]bool{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(b, &head); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		key := head.APIVersion + "/" + head.Kind
		switch {
		case strings.HasPrefix(head.APIVersion, "kustomize.config.k8s.io/"):
			continue
		case key == "monitoring.coreos.com/v1/PodMonitor":
			var pm struct {
				Spec struct {
					Selector struct {
						MatchExpressions []struct {
							Key, Operator string
							Values        []string
						} `json:"matchExpressions"`
					} `json:"selector"`
					PodMetricsEndpoints []struct {
						Port, Path, Interval string
					} `json:"podMetricsEndpoints"`
				} `json:"spec"`
			}
			if err := yaml.Unmarshal(b, &pm); err != nil {
				t.Errorf("%s: %v", p, err)
			}
			if len(pm.Spec.PodMetricsEndpoints) == 0 || len(pm.Spec.Selector.MatchExpressions) == 0 {
				t.Errorf("%s: a PodMonitor without endpoints or selector: %+v", p, pm.Spec)
			}
			seen[key] = true
			continue
		}
		mk, ok := apiTypes[key]
		if !ok {
			t.Errorf("%s: %s is not a kind this test knows; add its API type", p, key)
			continue
		}
		obj := mk()
		if err := yaml.UnmarshalStrict(b, obj); err != nil {
			t.Errorf("%s: not a valid %s: %v", p, key, err)
		}
		seen[key] = true
		if job, ok := obj.(*batchv1.Job); ok {
			s := job.Spec
			if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion || s.BackoffLimitPerIndex == nil ||
				s.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
				t.Errorf("%s: the load must be an Indexed Job with backoffLimitPerIndex and restartPolicy Never (a replaced index resumes its shard)", p)
			}
			vols := s.Template.Spec.Volumes
			if len(vols) != 1 || vols[0].PersistentVolumeClaim == nil || vols[0].PersistentVolumeClaim.ClaimName != "gatecrash-results" {
				t.Errorf("%s: the shards' results must be on the gatecrash-results claim (they outlive the pod): %+v", p, vols)
			}
			if s.Template.Labels["app.kubernetes.io/name"] != "gatecrash-load" {
				t.Errorf("%s: the load pods need the label the metrics Service and PodMonitor select", p)
			}
		}
	}
	for _, want := range []string{"batch/v1/Job", "v1/PersistentVolumeClaim", "v1/Namespace", "monitoring.coreos.com/v1/PodMonitor"} {
		if !seen[want] {
			t.Errorf("no %s among the manifests", want)
		}
	}
}
