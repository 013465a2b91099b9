package plugintest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/trellis-cp/trellis/core/plugin"
)

// Conformance says how to exercise one plugin in the conformance kit
// (RunConformance). Fill the fields of the plugin's kind.
type Conformance struct {
	// Manifest is what the plugin is loaded with (hosts for a connector's
	// target, for instance).
	Manifest plugin.Manifest

	// Schema is a schema the validator compiles; Valid and Invalid are
	// payloads that pass and fail it (at least one of each); BadSchema is
	// a schema it must refuse to compile.
	Schema    string
	Valid     []string
	Invalid   []string
	BadSchema string

	// Config is a connector config that opens; BadConfig one that open
	// must refuse. Record makes the i-th record of a batch (default: a
	// small JSON object); the connector's target must accept them all.
	Config    string
	BadConfig string
	Record    func(i int) plugin.Record
}

// LargeBatch is the size of the kit's large batches.
const LargeBatch = 1000

var (
	validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	semver    = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$`)
)

// RunConformance runs the checks every Trellis plugin must pass, as
// subtests of t, against the .wasm at path: its description (name, kind,
// semantic version, ABI version, documented config keys), the error paths
// of its kind (a bad schema or config is a plugin error, not a crash),
// empty and large batches, hostile payloads (empty, binary, 1 MiB),
// concurrent callers, and, at the end, that no instance had to be
// discarded: a conforming plugin never traps or times out on any of it.
func RunConformance(t *testing.T, path string, c Conformance) {
	t.Helper()
	p := Load(t, path, c.Manifest)
	t.Run("describe", func(t *testing.T) { checkDescription(t, p.Describe()) })
	switch p.Kind() {
	case plugin.KindValidator:
		runValidatorConformance(t, p, c)
	case plugin.KindConnector:
		runConnectorConformance(t, p, c)
	default:
		t.Fatalf("kind %q: the kit knows validator and connector", p.Kind())
	}
	t.Run("no-instance-lost", func(t *testing.T) {
		if st := p.Stats(); st.Discarded != 0 {
			t.Fatalf("%d instances were discarded (trap, timeout or memory) during the kit", st.Discarded)
		}
	})
}

func checkDescription(t *testing.T, d plugin.Description) {
	if !validName.MatchString(d.Name) {
		t.Errorf("name %q is not [a-z0-9][a-z0-9_-]{0,63}", d.Name)
	}
	if !semver.MatchString(d.Version) {
		t.Errorf("version %q is not a semantic version (1.2.3)", d.Version)
	}
	if d.ABIVersion != 1 {
		t.Errorf("abi_version %d, want 1", d.ABIVersion)
	}
	if d.Description == "" {
		t.Error("no description: say in a sentence what the plugin does")
	}
	seen := map[string]bool{}
	for _, k := range d.Config {
		if k.Name == "" || k.Description == "" {
			t.Errorf("config key %+v: every key needs a name and a description", k)
		}
		if seen[k.Name] {
			t.Errorf("config key %q documented twice", k.Name)
		}
		seen[k.Name] = true
	}
}

func runValidatorConformance(t *testing.T, p *Plugin, c Conformance) {
	if c.Schema == "" || len(c.Valid) == 0 || len(c.Invalid) == 0 || c.BadSchema == "" {
		t.Fatal("conformance: a validator needs Schema, Valid, Invalid and BadSchema")
	}
	schema := []byte(c.Schema)
	call := func(t *testing.T, payloads [][]byte) []plugin.Result {
		t.Helper()
		cx, cancel := ctx()
		defer cancel()
		res, err := p.Plugin.Validate(cx, schema, payloads)
		if err != nil {
			t.Fatalf("validate %d payloads: %v", len(payloads), err)
		}
		if len(res) != len(payloads) {
			t.Fatalf("%d results for %d payloads", len(res), len(payloads))
		}
		return res
	}
	t.Run("bad-schema", func(t *testing.T) {
		cx, cancel := ctx()
		defer cancel()
		err := p.CheckSchema(cx, []byte(c.BadSchema))
		var ge *plugin.GuestError
		if !errors.As(err, &ge) || ge.Msg == "" {
			t.Fatalf("bad schema: %v, want a plugin error saying why", err)
		}
		// The failed compile leaves the instance usable.
		call(t, [][]byte{[]byte(c.Valid[0])})
	})
	t.Run("verdicts", func(t *testing.T) {
		for _, v := range c.Valid {
			if r := call(t, [][]byte{[]byte(v)})[0]; r.Outcome != plugin.Valid {
				t.Errorf("%.80q: %s %q, want valid", v, r.Outcome, r.Message)
			}
		}
		for _, v := range c.Invalid {
			r := call(t, [][]byte{[]byte(v)})[0]
			if r.Outcome != plugin.Invalid || r.Message == "" {
				t.Errorf("%.80q: %s %q, want invalid with a reason", v, r.Outcome, r.Message)
			}
			if !utf8.ValidString(r.Message) {
				t.Errorf("%.80q: message %q is not UTF-8", v, r.Message)
			}
		}
	})
	t.Run("empty-batch", func(t *testing.T) {
		if res := call(t, nil); len(res) != 0 {
			t.Fatalf("%d results for no payloads", len(res))
		}
	})
	t.Run("large-batch", func(t *testing.T) {
		payloads, want := mixedBatch(c.Valid, c.Invalid, LargeBatch)
		for i, r := range call(t, payloads) {
			if r.OK() != want[i] {
				t.Fatalf("payload %d (%.80q): %s %q, want valid=%v: results out of order?",
					i, payloads[i], r.Outcome, r.Message, want[i])
			}
		}
	})
	t.Run("hostile-payloads", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		big := make([]byte, 1<<20)
		for i := range big {
			big[i] = byte(rng.UintN(256))
		}
		hostile := [][]byte{{}, {0}, []byte("\xff\xfe\xfd"), bytes.Repeat([]byte("["), 10000), big}
		for i, r := range call(t, hostile) {
			if r.Outcome != plugin.Valid && r.Message == "" {
				t.Errorf("hostile payload %d: %s without a message", i, r.Outcome)
			}
		}
		// The instance that saw them still judges correctly.
		if r := call(t, [][]byte{[]byte(c.Valid[0])})[0]; !r.OK() {
			t.Fatalf("after hostile payloads a valid payload is %s %q", r.Outcome, r.Message)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		payloads, want := mixedBatch(c.Valid, c.Invalid, 20)
		concurrently(t, 8, 25, func() error {
			cx, cancel := ctx()
			defer cancel()
			res, err := p.Plugin.Validate(cx, schema, payloads)
			if err != nil {
				return err
			}
			for i, r := range res {
				if r.OK() != want[i] {
					return fmt.Errorf("payload %d: %s, want valid=%v", i, r.Outcome, want[i])
				}
			}
			return nil
		})
	})
}

// mixedBatch cycles through valid and invalid payloads, alternating.
func mixedBatch(valid, invalid []string, n int) ([][]byte, []bool) {
	payloads := make([][]byte, n)
	want := make([]bool, n)
	for i := range payloads {
		if i%2 == 0 {
			payloads[i], want[i] = []byte(valid[(i/2)%len(valid)]), true
		} else {
			payloads[i] = []byte(invalid[(i/2)%len(invalid)])
		}
	}
	return payloads, want
}

func runConnectorConformance(t *testing.T, p *Plugin, c Conformance) {
	if c.Config == "" || c.BadConfig == "" {
		t.Fatal("conformance: a connector needs Config and BadConfig")
	}
	record := c.Record
	if record == nil {
		record = func(i int) plugin.Record {
			return plugin.Record{Offset: uint64(i), Key: []byte(fmt.Sprint("k", i)),
				Value: []byte(fmt.Sprintf(`{"n":%d}`, i))}
		}
	}
	batch := func(n int) []plugin.Record {
		out := make([]plugin.Record, n)
		for i := range out {
			out[i] = record(i)
		}
		return out
	}
	t.Run("bad-config", func(t *testing.T) {
		cx, cancel := ctx()
		defer cancel()
		conn, err := p.OpenConnector(cx, []byte(c.BadConfig))
		if err == nil {
			conn.Close(cx)
			t.Fatal("open with the bad config succeeded")
		}
		var ge *plugin.GuestError
		if !errors.As(err, &ge) || ge.Msg == "" {
			t.Fatalf("bad config: %v, want a plugin error saying why", err)
		}
	})
	t.Run("batches", func(t *testing.T) {
		cx, cancel := ctx()
		defer cancel()
		conn, err := p.OpenConnector(cx, []byte(c.Config))
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		for _, n := range []int{0, 1, LargeBatch} {
			if got, err := conn.Write(cx, batch(n)); err != nil || got != n {
				t.Fatalf("write %d records: accepted %d, %v", n, got, err)
			}
		}
		if err := conn.Close(cx); err != nil {
			t.Fatalf("close: %v", err)
		}
		if err := conn.Close(cx); err != nil {
			t.Fatalf("second close: %v", err)
		}
		if _, err := conn.Write(cx, batch(1)); !errors.Is(err, plugin.ErrClosed) {
			t.Fatalf("write after close: %v, want ErrClosed", err)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		concurrently(t, 4, 10, func() error {
			cx, cancel := ctx()
			defer cancel()
			conn, err := p.OpenConnector(cx, []byte(c.Config))
			if err != nil {
				return err
			}
			defer conn.Close(cx)
			if got, err := conn.Write(cx, batch(10)); err != nil || got != 10 {
				return fmt.Errorf("write 10: accepted %d, %v", got, err)
			}
			return nil
		})
	})
}

// concurrently runs fn rounds times on each of workers goroutines and
// fails t with the first error.
func concurrently(t *testing.T, workers, rounds int, fn func() error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if err := fn(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}
