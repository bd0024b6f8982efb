package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/gatecrash/gatecrash/faultserver"
)

// applyJSONPatch applies RFC 6902 add and replace operations (what the overlays use) to doc,
// as kustomize would.
func applyJSONPatch(t *testing.T, doc any, patch string) any {
	t.Helper()
	var ops []struct {
		Op, Path string
		Value    any
	}
	if err := yaml.Unmarshal([]byte(patch), &ops); err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		parts := strings.Split(strings.TrimPrefix(op.Path, "/"), "/")
		parent := doc
		for _, p := range parts[:len(parts)-1] {
			switch c := parent.(type) {
			case map[string]any:
				parent = c[p]
			case []any:
				i, _ := strconv.Atoi(p)
				parent = c[i]
			}
			if parent == nil {
				t.Fatalf("%s %s: no %s", op.Op, op.Path, p)
			}
		}
		last := parts[len(parts)-1]
		switch c := parent.(type) {
		case map[string]any:
			if _, ok := c[last]; op.Op == "replace" && !ok {
				t.Fatalf("replace %s: nothing there", op.Path)
			}
			c[last] = op.Value
		case []any:
			if last != "-" || op.Op != "add" {
				i, err := strconv.Atoi(last)
				if err != nil || i >= len(c) {
					t.Fatalf("%s %s: bad index", op.Op, op.Path)
				}
				c[i] = op.Value
				continue
			}
			// appending to a slice held in a map: write it back through the path
			grand := doc
			for _, p := range parts[:len(parts)-2] {
				grand = grand.(map[string]any)[p]
			}
			grand.(map[string]any)[parts[len(parts)-2]] = append(c, op.Value)
		default:
			t.Fatalf("%s %s: parent is %T", op.Op, op.Path, parent)
		}
	}
	return doc
}

// TestSidecarOverlay: the sidecar overlay, applied as kustomize applies it, gives a valid
// Deployment whose pod runs the app and the relay, the relay relaying over the pod's loopback
// to the app container's own port with a fault plan the server accepts, and a Service that
// sends traffic to the relay, not around it.
func TestSidecarOverlay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := "k8s/overlays/sidecar"
	var k kustomization
	readYAML(t, filepath.Join(dir, "kustomization.yaml"), &k)
	objs := map[string]any{}
	for _, r := range k.Resources {
		b, err := os.ReadFile(filepath.Join(dir, r))
		if err != nil {
			t.Fatal(err)
		}
		var o map[string]any
		if err := yaml.Unmarshal(b, &o); err != nil {
			t.Fatal(err)
		}
		objs[fmt.Sprintf("%v/%v", o["kind"], o["metadata"].(map[string]any)["name"])] = o
	}
	for _, p := range k.Patches {
		key := p.Target.Kind + "/" + p.Target.Name
		if objs[key] == nil {
			t.Fatalf("patch target %s is not among the resources", key)
		}
		objs[key] = applyJSONPatch(t, objs[key], p.Patch)
	}
	decode := func(key string, into any) {
		b, _ := json.Marshal(objs[key])
		if err := yaml.UnmarshalStrict(b, into); err != nil {
			t.Fatalf("%s after the overlay: %v", key, err)
		}
	}
	var dep appsv1.Deployment
	var svc corev1.Service
	var cm corev1.ConfigMap
	decode("Deployment/app", &dep)
	decode("Service/app", &svc)
	decode("ConfigMap/gatecrash-relay", &cm)

	cs := dep.Spec.Template.Spec.Containers
	if len(cs) != 2 || cs[0].Name != "app" || cs[1].Name != "gatecrash-relay" {
		t.Fatalf("the pod must run the app and the relay: %v", cs)
	}
	app, relay := cs[0], cs[1]
	args := strings.Join(relay.Args, " ")
	if want := fmt.Sprintf("--upstream http://127.0.0.1:%d", app.Ports[0].ContainerPort); !strings.Contains(args, want) {
		t.Errorf("the relay must relay to the app container's port over loopback (%s): %s", want, args)
	}
	if tp := svc.Spec.Ports[0].TargetPort.String(); tp != "relay" || relay.Ports[0].Name != "relay" {
		t.Errorf("the Service must send traffic to the relay: targetPort %s, relay port %q", tp, relay.Ports[0].Name)
	}
	if _, err := faultserver.ParseConfig([]byte(cm.Data["relay.yaml"]), "relay.yaml"); err != nil {
		t.Errorf("the relay's fault plan: %v", err)
	}
	vols := dep.Spec.Template.Spec.Volumes
	if len(vols) != 1 || vols[0].ConfigMap == nil || vols[0].ConfigMap.Name != "gatecrash-relay" || relay.VolumeMounts[0].Name != vols[0].Name {
		t.Errorf("the relay's fault plan is not mounted: %+v, %+v", vols, relay.VolumeMounts)
	}
	bin := buildLikeDockerfile(t, "sidecar-test")
	checkCommand(t, bin, "sidecar relay", relay.Args)
	checkCommand(t, bin, "sidecar stand-in app", app.Args)
}
