package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// pidFileName is the file a started proxy's run folder holds while the proxy runs: what a
// later gatecrash needs to stop it if this one is killed before it can (SIGKILL, OOM kill).
const pidFileName = "proxy.pid"

// pidRecord is the content of the pid file.
type pidRecord struct {
	Kind Kind   `json:"kind"`
	PID  int    `json:"pid"`
	Conf string `json:"conf"`     // the config path: on the process's command line
	Temp string `json:"temp_dir"` // the private temp dir to remove
}

func writePidFile(dir string, rec pidRecord) error {
	b, _ := json.Marshal(rec)
	return os.WriteFile(filepath.Join(dir, pidFileName), append(b, '\n'), 0o644)
}

// stopLeftover stops a proxy that an earlier, killed gatecrash started in run folder dir and
// could not stop: its pid file is still there and the process still runs that config. It
// ends the process group (SIGTERM, then SIGKILL), removes the old temp dir and the pid file,
// and returns a line saying what it did ("" when there was nothing to do).
func stopLeftover(dir string) (string, error) {
	path := filepath.Join(dir, pidFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var rec pidRecord
	if err := json.Unmarshal(b, &rec); err != nil || rec.PID <= 1 {
		os.Remove(path) // not ours, or torn: nothing we can safely act on
		return "", nil
	}
	msg := ""
	if runsConfig(rec.PID, rec.Conf) {
		killGroup(rec.PID)
		msg = fmt.Sprintf("stopped %s (pid %d) left running in %s by an earlier gatecrash that was killed", rec.Kind, rec.PID, dir)
	}
	if filepath.IsAbs(rec.Temp) && strings.HasPrefix(filepath.Base(rec.Temp), "gatecrash-"+string(rec.Kind)+"-") {
		os.RemoveAll(rec.Temp)
	}
	return msg, os.Remove(path)
}
