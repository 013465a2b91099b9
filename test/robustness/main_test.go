package robustness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Environment switches:
//
//	TRELLIS_ROBUSTNESS=full         the whole matrix (make robustness) and a report
//	TRELLIS_ROBUSTNESS_RUN=regexp   only scenarios whose name matches (either mode)
//	TRELLIS_ROBUSTNESS_RATE=N       total requests per second (default 200, full 300)
//	TRELLIS_ROBUSTNESS_REPORT=DIR   where the report goes (default test/robustness)
//
// The node processes never see these: the harness drops every TRELLIS_*
// variable of its own environment before starting one.
var (
	bin       string // the trellis binary with failpoints
	full      bool
	reportDir string // artifacts: report, visualizations, failing histories
	report    = &Report{Started: time.Now()}
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	full = os.Getenv("TRELLIS_ROBUSTNESS") == "full"
	report.Mode = "short"
	if full {
		report.Mode = "full"
	}
	_, self, _, _ := runtime.Caller(0)
	here := filepath.Dir(self)
	base := os.Getenv("TRELLIS_ROBUSTNESS_REPORT")
	if base == "" {
		base = here
	}
	stamp := report.Started.Format("20060102-150405")
	reportDir = filepath.Join(base, "report-"+stamp)

	tmp, err := os.MkdirTemp("", "trellis-robustness-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	bin = filepath.Join(tmp, "trellis")
	build := exec.Command("go", "build", "-tags", "failpoints", "-o", bin, "./cmd/trellis")
	build.Dir = filepath.Join(here, "..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build -tags failpoints: %v\n%s", err, out)
		return 1
	}
	code := m.Run()
	if full && !report.Empty() {
		path := filepath.Join(base, "report-"+stamp+".md")
		f, err := os.Create(path)
		if err == nil {
			report.Write(f)
			f.Close()
			fmt.Printf("robustness report: %s\n", path)
		} else {
			fmt.Fprintln(os.Stderr, "robustness report:", err)
		}
	}
	return code
}
