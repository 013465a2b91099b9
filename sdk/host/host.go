// Package host is a plugin's access to the Trellis host: logging, the
// config the operator granted, the clock, files under allowed paths and
// plugin-scoped metrics. HTTP and TCP are in the subpackages hosthttp and
// hostnet, so a plugin that needs neither does not link net/http.
//
// Everything here is a host function call: it runs synchronously inside the
// current plugin call and is checked against the plugin's manifest. A
// denied access returns an error matching ErrDenied (errors.Is) with the
// host's explanation; the host also logs it.
package host

import (
	"errors"

	"github.com/trellis-cp/trellis/sdk/abi"
	"github.com/trellis-cp/trellis/sdk/internal/hostcall"
)

// CallError is a host function's failure; Errno says what kind, Msg why.
type CallError = hostcall.Error

// Sentinel errors to test a host failure with errors.Is.
var (
	ErrDenied    error = &CallError{Errno: abi.ErrnoDenied}
	ErrNotFound  error = &CallError{Errno: abi.ErrnoNotFound}
	ErrInvalid   error = &CallError{Errno: abi.ErrnoInvalid}
	ErrIO        error = &CallError{Errno: abi.ErrnoIO}
	ErrTimeout   error = &CallError{Errno: abi.ErrnoTimeout}
	ErrBadHandle error = &CallError{Errno: abi.ErrnoBadHandle}
	ErrLimit     error = &CallError{Errno: abi.ErrnoLimit}
)

// ErrNotInPlugin is what every host call returns when the code runs
// outside a plugin (a native unit test).
var ErrNotInPlugin = hostcall.ErrNotInPlugin

// Config returns the value of a config key the operator's manifest grants
// this plugin. ok is false when the key is not granted or not set; that is
// the normal way to find an optional key absent.
func Config(key string) (value string, ok bool) {
	v, err := hostcall.ConfigGet(key)
	if err != nil {
		return "", false
	}
	return v, true
}

// ConfigErr is Config with the host's reason when the key is absent.
func ConfigErr(key string) (string, error) { return hostcall.ConfigGet(key) }

// Counter adds delta to the plugin's counter name ([a-z0-9_], at most 64
// bytes), exported by the node as trellis_plugin_guest_counter_total with
// labels plugin and name.
func Counter(name string, delta float64) error { return hostcall.MetricCounterAdd(name, delta) }

// Gauge sets the plugin's gauge name, exported as trellis_plugin_guest_gauge.
func Gauge(name string, value float64) error { return hostcall.MetricGaugeSet(name, value) }

// IsDenied reports whether err is a manifest denial.
func IsDenied(err error) bool { return errors.Is(err, ErrDenied) }
