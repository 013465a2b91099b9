// Command pluginbench runs the plugin host's Go benchmarks (package
// core/plugin, which builds its .wasm guests from source first) and the
// shipped validators' (plugins/json, avro, protobuf) and prints their
// figures as a summary: call overhead per batch and per record, cold and
// cached load, instance start, the json plugin in wasm against the JSON
// Schema library natively, the cost of the call deadline mechanism, and
// validations per second of each schema type in wasm and natively.
//
//	go run ./test/pluginbench [-benchtime 1s] [-v]
//
// make bench runs it. It fails only if the benchmarks fail to build or run,
// never on a figure: the figures are wall-clock times on whatever machine
// runs it, so compare ratios more than absolutes.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// benchmarks are the core/plugin benchmarks the summary reads.
const benchmarks = `^(BenchmarkCallRaw|BenchmarkCallGo|BenchmarkJSONSchema|BenchmarkLoad|BenchmarkInstantiate|BenchmarkFirstValidate|BenchmarkTermination)$`

// validators are the shipped validator plugins' benchmarks: the same small
// record checked natively and through the .wasm, in batches of 1 and 100.
const validators = `^Benchmark(JSON|Avro|Protobuf)(Native|Wasm|LibraryNative)$`

var validatorPkgs = []string{"./plugins/json", "./plugins/avro", "./plugins/protobuf"}

func main() {
	benchtime := flag.String("benchtime", "1s", "go test -benchtime for each benchmark")
	verbose := flag.Bool("v", false, "print go test's output as it comes")
	pkg := flag.String("pkg", "./core/plugin", "the package holding the host benchmarks")
	flag.Parse()

	start := time.Now()
	res := results{}
	run(res, benchmarks, *benchtime, *verbose, *pkg)
	run(res, validators, *benchtime, *verbose, validatorPkgs...)
	fmt.Println()
	summary(os.Stdout, res)
	fmt.Println()
	validatorSummary(os.Stdout, res)
	fmt.Printf("\n(%s; wall-clock figures from this machine as loaded as it is now)\n", time.Since(start).Round(time.Second))
}

// run runs go test's benchmarks matching pattern in pkgs and adds their
// figures to res.
func run(res results, pattern, benchtime string, verbose bool, pkgs ...string) {
	args := append([]string{"test", "-run", "^$", "-bench", pattern, "-benchtime", benchtime}, pkgs...)
	fmt.Printf("go %s\n", strings.Join(quote(args), " "))
	cmd := exec.Command(goTool(), args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fail(err)
	}
	if err := cmd.Start(); err != nil {
		fail(err)
	}
	var raw strings.Builder
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		raw.WriteString(line + "\n")
		if name, m, ok := parse(line); ok {
			res[name] = m
			if verbose {
				fmt.Println(line)
			} else {
				fmt.Printf("  %-50s %s\n", name, short(m))
			}
		} else if verbose {
			fmt.Println(line)
		}
	}
	if err := cmd.Wait(); err != nil {
		if !verbose {
			io.WriteString(os.Stderr, raw.String())
		}
		fail(fmt.Errorf("go test: %w", err))
	}
}

// quote puts a pattern argument in single quotes for the printed command.
func quote(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, "^$|()") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return out
}

// metrics maps a unit (ns/op, ns/record, compile-ms...) to its value.
type metrics map[string]float64

// results maps a benchmark name without the -GOMAXPROCS suffix.
type results map[string]metrics

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.*)$`)

// parse reads one benchmark result line.
func parse(line string) (string, metrics, bool) {
	m := benchLine.FindStringSubmatch(line)
	if m == nil {
		return "", nil, false
	}
	f := strings.Fields(m[3])
	out := metrics{}
	for i := 0; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return "", nil, false
		}
		out[f[i+1]] = v
	}
	return m[1], out, true
}

func short(m metrics) string {
	var parts []string
	for _, u := range []string{"ns/op", "ns/record", "compile-ms", "instantiate-ms", "ms/instance", "first-validate-ms"} {
		if v, ok := m[u]; ok {
			parts = append(parts, fmt.Sprintf("%s %s", num(v), u))
		}
	}
	return strings.Join(parts, "  ")
}

func summary(w io.Writer, r results) {
	get := func(name, unit string) (float64, bool) {
		m, ok := r[name]
		if !ok {
			return 0, false
		}
		v, ok := m[unit]
		return v, ok
	}
	row := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }

	row("Call overhead: one validate call per batch, the plugin returns every record valid")
	row("  %-42s %14s %14s", "", "per batch", "per record")
	for _, c := range []struct{ name, bench string }{
		{"empty Go plugin (SDK)", "BenchmarkCallGo"},
		{"host only (hand-written wasm)", "BenchmarkCallRaw"},
	} {
		for _, n := range []int{1, 100, 1000} {
			b := fmt.Sprintf("%s/batch=%d", c.bench, n)
			op, ok1 := get(b, "ns/op")
			rec, ok2 := get(b, "ns/record")
			if ok1 && ok2 {
				row("  %-42s %14s %14s", fmt.Sprintf("%s, batch of %d", c.name, n), dur(op), dur(rec))
			}
		}
	}

	row("")
	row("Load (Host.Load: compile or read the cache, start the first instance, describe)")
	row("  %-42s %14s %14s %14s", "", "total", "compile", "first instance")
	for _, name := range []string{"json", "empty"} {
		for _, kind := range []string{"cold", "cached"} {
			b := fmt.Sprintf("BenchmarkLoad/%s/%s", name, kind)
			op, ok := get(b, "ns/op")
			if !ok {
				continue
			}
			c, _ := get(b, "compile-ms")
			i, _ := get(b, "instantiate-ms")
			label := name + ".wasm, " + kind
			if kind == "cached" {
				label += " (restart)"
			}
			row("  %-42s %14s %14s %14s", label, dur(op), dur(c*1e6), dur(i*1e6))
		}
	}
	var starts []string
	for _, name := range []string{"json", "sink"} {
		if v, ok := get("BenchmarkInstantiate/"+name, "ms/instance"); ok {
			starts = append(starts, fmt.Sprintf("%s %s", name, dur(v*1e6)))
		}
	}
	if len(starts) > 0 {
		row("  instance start (pool warm-up and replacement): %s", strings.Join(starts, ", "))
	}
	if v, ok := get("BenchmarkFirstValidate", "first-validate-ms"); ok {
		row("  json: first validate call of an instance (meta-schemas, schema, 1 record): %s", dur(v*1e6))
	}

	row("")
	row("JSON Schema validation: the json plugin in wasm (its fast path, then the library) against the library alone natively")
	row("  %-42s %14s %14s %14s", "", "wasm", "native Go", "wasm/native")
	for _, n := range []int{1, 100, 1000} {
		w, ok1 := get(fmt.Sprintf("BenchmarkJSONSchema/wasm/batch=%d", n), "ns/record")
		nat, ok2 := get(fmt.Sprintf("BenchmarkJSONSchema/native/batch=%d", n), "ns/record")
		if ok1 && ok2 && nat > 0 {
			row("  %-42s %14s %14s %13.1fx", fmt.Sprintf("per record, batch of %d", n), dur(w), dur(nat), w/nat)
		}
	}

	row("")
	row("Call deadlines (BenchmarkTermination): none, the host's loop instrumentation, wazero's WithCloseOnContextDone")
	row("  %-42s %14s %14s %14s", "", "none", "instrumented", "closeOnCtxDone")
	for _, c := range []struct{ label, sub string }{
		{"loop of 1M iterations", "spin1e6"},
		{"empty call", "call"},
	} {
		none, ok1 := get("BenchmarkTermination/none/"+c.sub, "ns/op")
		ins, ok2 := get("BenchmarkTermination/instrumented/"+c.sub, "ns/op")
		cc, ok3 := get("BenchmarkTermination/closeOnContextDone/"+c.sub, "ns/op")
		if ok1 && ok2 && ok3 {
			row("  %-42s %14s %14s %14s", c.label, dur(none), dur(ins), dur(cc))
		}
	}
	none, ok1 := get("BenchmarkTermination/none/spin1e6", "ns/op")
	ins, ok2 := get("BenchmarkTermination/instrumented/spin1e6", "ns/op")
	cc, ok3 := get("BenchmarkTermination/closeOnContextDone/spin1e6", "ns/op")
	if ok1 && ok2 && ok3 && none > 0 {
		row("  per loop iteration: +%.2f ns instrumented (%.1fx), +%.1f ns with WithCloseOnContextDone (%.0fx)",
			(ins-none)/1e6, ins/none, (cc-none)/1e6, cc/none)
	}
}

// validatorSummary prints the schema module's figures: validations per
// second of each shipped validator, in wasm and natively, and the ratio.
func validatorSummary(w io.Writer, r results) {
	row := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	row("Schema validation (the shipped validators, one small record, valid): validations per second on one core")
	row("  %-36s %12s %12s %12s %12s", "", "wasm", "native Go", "wasm/native", "wasm/record")
	for _, t := range []struct{ label, bench string }{
		{"json (JSON Schema)", "JSON"},
		{"avro (binary datum)", "Avro"},
		{"protobuf (binary message)", "Protobuf"},
	} {
		for _, n := range []int{1, 100} {
			wm, ok1 := r[fmt.Sprintf("Benchmark%sWasm/batch=%d", t.bench, n)]
			nm, ok2 := r[fmt.Sprintf("Benchmark%sNative/batch=%d", t.bench, n)]
			if !ok1 || !ok2 || wm["ns/record"] <= 0 || nm["ns/record"] <= 0 {
				continue
			}
			wr, nr := wm["ns/record"], nm["ns/record"]
			row("  %-36s %12s %12s %11.1fx %12s", fmt.Sprintf("%s, batch of %d", t.label, n),
				rate(wr), rate(nr), wr/nr, dur(wr))
			// json's native figure has its fast path too; this one is the
			// library alone (when the pattern ran BenchmarkJSONLibraryNative).
			if lm, ok := r[fmt.Sprintf("Benchmark%sLibraryNative/batch=%d", t.bench, n)]; ok && lm["ns/record"] > 0 {
				lr := lm["ns/record"]
				row("  %-36s %12s %12s %11.1fx %12s", "  against the library alone natively", rate(wr), rate(lr), wr/lr, dur(wr))
			}
		}
	}
}

// rate formats records per second from nanoseconds per record.
func rate(ns float64) string {
	v := 1e9 / ns
	switch {
	case v >= 1e6:
		return num(v/1e6) + " M/s"
	case v >= 1e3:
		return num(v/1e3) + " k/s"
	}
	return num(v) + " /s"
}

// dur formats nanoseconds.
func dur(ns float64) string {
	switch {
	case ns >= 1e9:
		return num(ns/1e9) + " s"
	case ns >= 1e6:
		return num(ns/1e6) + " ms"
	case ns >= 1e3:
		return num(ns/1e3) + " µs"
	}
	return num(ns) + " ns"
}

// num prints three significant digits or so.
func num(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		if _, err := os.Stat(root + "/bin/go"); err == nil {
			return root + "/bin/go"
		}
	}
	return "go"
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "pluginbench:", err)
	os.Exit(1)
}
