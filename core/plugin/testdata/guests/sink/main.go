// Command sink is a test connector: it checks the records it receives
// (key "k<offset>", value "v<offset>", header "h"="<offset>") and counts
// them in plugin metrics, so the tests can see what crossed the boundary.
package main

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/trellis-cp/trellis/sdk/connector"
	"github.com/trellis-cp/trellis/sdk/host"
)

func init() {
	connector.Register(connector.Info{
		Name: "sink", Version: "0.1.0", Description: "test connector",
		Config: []connector.ConfigKey{
			{Name: "prefix", Type: "string", Default: "v", Description: "expected value prefix"},
			{Name: "fail_value", Type: "string", Description: "a value that fails its record"},
			{Name: "required_thing", Type: "bool", Required: false},
		},
	}, func() connector.Connector { return &sink{} })
}

type sink struct {
	prefix, failValue string
	opened            bool
	total             int
}

func (s *sink) Open(cfg connector.Config) error {
	s.prefix = cfg.String("prefix")
	s.failValue = cfg.String("fail_value")
	if s.prefix == "refuse" {
		return errors.New("prefix refuse refused")
	}
	s.opened = true
	return nil
}

func (s *sink) Write(batch []connector.Record) error {
	err := connector.EachRecord(batch, func(r connector.Record) error {
		if s.failValue != "" && string(r.Value) == s.failValue {
			return errors.New("asked to fail")
		}
		if string(r.Value) == "loop" {
			for {
			}
		}
		off := strconv.FormatUint(r.Offset, 10)
		if string(r.Key) != "k"+off || string(r.Value) != s.prefix+off {
			return fmt.Errorf("record %s: key %q value %q", off, r.Key, r.Value)
		}
		if len(r.Headers) != 1 || r.Headers[0].Key != "h" || string(r.Headers[0].Value) != off {
			return fmt.Errorf("record %s: headers %v", off, r.Headers)
		}
		if r.Time.UnixMilli() != int64(r.Offset)*1000 {
			return fmt.Errorf("record %s: time %v", off, r.Time)
		}
		s.total++
		return nil
	})
	host.Counter("batches", 1)
	host.Gauge("total", float64(s.total))
	return err
}

func (s *sink) Close() error {
	host.Counter("closed", 1)
	return nil
}

func main() {}
