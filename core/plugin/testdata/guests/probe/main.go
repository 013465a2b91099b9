// Command probe is a test plugin: a validator whose payloads are commands,
// so one module exercises every host function and failure mode. Each
// payload's verdict message carries the command's result ("ok ..." or
// "err ..."), which the tests read back.
package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	"github.com/trellis-cp/trellis/sdk/host"
	"github.com/trellis-cp/trellis/sdk/host/hosthttp"
	"github.com/trellis-cp/trellis/sdk/host/hostnet"
	"github.com/trellis-cp/trellis/sdk/validator"
)

func init() {
	validator.Register(validator.Info{Name: "probe", Version: "1.2.3",
		Description: "test plugin: payloads are commands",
		Config:      []validator.ConfigKey{{Name: "greeting", Type: "string", Description: "a test key"}}},
		func(schema []byte) (validator.Schema, error) {
			if string(schema) == "bad" {
				return nil, errors.New("schema says bad")
			}
			return validator.SchemaFunc(run), nil
		})
}

// trapBase is where the trap command's out-of-bounds store starts.
var trapBase byte

// spawned counts goroutines the spawn command started that ran.
var spawned int

// kept holds allocations so the memory tests can grow the heap.
var kept [][]byte

func result(format string, args ...any) error { return fmt.Errorf("ok "+format, args...) }

func failure(err error) error {
	if host.IsDenied(err) {
		return fmt.Errorf("denied %v", err)
	}
	return fmt.Errorf("err %v", err)
}

func run(payload []byte) error {
	cmd, arg, _ := strings.Cut(string(payload), " ")
	switch cmd {
	case "valid":
		return nil
	case "invalid":
		return errors.New(arg)
	case "undecided":
		return validator.Undecided(errors.New(arg))
	case "config":
		v, err := host.ConfigErr(arg)
		if err != nil {
			return failure(err)
		}
		return result("%s", v)
	case "goroutines":
		return result("%d", runtime.NumGoroutine())
	case "spawn":
		// A goroutine started in one call must run before the call ends
		// (nothing runs between calls): the SDK yields at the end.
		go func() { spawned++ }()
		return result("spawned")
	case "spawned":
		return result("%d", spawned)
	case "clock":
		return result("%d", host.Now().UnixNano())
	case "log":
		host.Info(arg, "k", "v")
		return result("%v", host.LogEnabled(slog.LevelDebug))
	case "counter":
		if err := host.Counter(arg, 2); err != nil {
			return failure(err)
		}
		return result("counted")
	case "http":
		method, url, _ := strings.Cut(arg, " ")
		req, err := http.NewRequest(method, url, strings.NewReader("body-from-plugin"))
		if err != nil {
			return failure(err)
		}
		req.Header.Set("X-Probe", "1")
		resp, err := hosthttp.Client().Do(req)
		if err != nil {
			return failure(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return failure(err)
		}
		return result("%d %s", resp.StatusCode, b)
	case "tcp":
		addr, msg, _ := strings.Cut(arg, " ")
		c, err := hostnet.Dial("tcp", addr)
		if err != nil {
			return failure(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte(msg)); err != nil {
			return failure(err)
		}
		buf := make([]byte, 256)
		n, err := c.Read(buf)
		if err != nil {
			return failure(err)
		}
		return result("%s", buf[:n])
	case "read":
		b, err := host.ReadFile(arg)
		if err != nil {
			return failure(err)
		}
		return result("%s", b)
	case "write":
		path, data, _ := strings.Cut(arg, " ")
		if err := host.WriteFile(path, []byte(data)); err != nil {
			return failure(err)
		}
		return result("written")
	case "osopen":
		_, err := os.Open(arg)
		return failure(err)
	case "alloc":
		mib, _ := strconv.Atoi(arg)
		kept = append(kept, make([]byte, mib<<20))
		return result("allocated %d MiB", mib)
	case "loop":
		for {
		}
	case "trap":
		// An out-of-bounds store: a real WebAssembly trap, which Go's
		// panic machinery cannot recover.
		far := (*[1 << 31]byte)(unsafe.Pointer(&trapBase))
		far[len(far)-1] = 1 // 2 GiB past trapBase: beyond any memory a plugin has
		return fmt.Errorf("not trapped: %d", far[len(far)-1])
	case "exit":
		os.Exit(3)
	case "panic":
		panic("probe panic")
	case "print":
		fmt.Fprintln(os.Stderr, arg)
		return result("printed")
	case "big":
		n, _ := strconv.Atoi(arg)
		return errors.New(strings.Repeat("x", n))
	}
	return fmt.Errorf("unknown command %q", cmd)
}

func main() {}
