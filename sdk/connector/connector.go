// Package connector is the SDK for connector plugins: code that delivers
// records from a Trellis topic to an outside system.
//
// An author implements Connector and registers it from an init function
// (main never runs in a plugin built with -buildmode=c-shared):
//
//	func init() {
//		connector.Register(connector.Info{Name: "webhook", Version: "1.0.0", ...},
//			func() connector.Connector { return &webhook{} })
//	}
//	func main() {}
//
// The host opens a connector with its config, hands it batches of records
// (one boundary crossing per batch), and closes it. One plugin instance may
// hold several open connectors; calls into one instance never overlap.
// Nothing runs between calls: a goroutine started in Write must finish
// before Write returns.
package connector

import (
	"errors"
	"fmt"
	"time"

	"github.com/trellis-cp/trellis/sdk/abi"
	"github.com/trellis-cp/trellis/sdk/internal/guest"
)

// Connector is what an author implements.
type Connector interface {
	// Open prepares delivery with the connector's config (defaults applied,
	// required keys checked against Info.Config). An error is reported to
	// the operator and the connector is not opened.
	Open(cfg Config) error
	// Write delivers a batch in order. Returning nil acknowledges every
	// record; returning an error built with Partial (or from EachRecord)
	// acknowledges the records before the failed one, so the host retries
	// from there. Records alias host memory: copy what outlives the call.
	Write(batch []Record) error
	// Close flushes and releases what Open acquired.
	Close() error
}

// Record is one record to deliver.
type Record struct {
	// Offset is the record's position in its topic.
	Offset uint64
	// Time is when the record was produced.
	Time    time.Time
	Key     []byte
	Headers []Header
	Value   []byte
}

// Header is a record header.
type Header = abi.Header

// ConfigKey documents one config key in the plugin's description.
type ConfigKey = abi.ConfigKey

// Info describes the plugin.
type Info struct {
	// Name is the plugin's name ([a-z0-9_-]).
	Name string
	// Version is the plugin's version; empty uses the module version.
	Version string
	// Description is one sentence for operators.
	Description string
	// Config lists the keys Open accepts. When it is not empty, Open is
	// refused a key it does not list, and keys marked Required must be set.
	Config []ConfigKey
}

// PartialError reports a batch delivered up to, but not including,
// record Written.
type PartialError struct {
	Written int
	Err     error
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("record %d: %v", e.Written, e.Err)
}

func (e *PartialError) Unwrap() error { return e.Err }

// Partial reports that records [0, written) were delivered before err.
func Partial(written int, err error) error { return &PartialError{Written: written, Err: err} }

// EachRecord is the per-record helper: it calls fn for each record in
// order and stops at the first error, reporting how many were delivered.
//
//	func (w *webhook) Write(batch []connector.Record) error {
//		return connector.EachRecord(batch, w.send)
//	}
func EachRecord(batch []Record, fn func(Record) error) error {
	for i := range batch {
		if err := fn(batch[i]); err != nil {
			return Partial(i, err)
		}
	}
	return nil
}

var (
	info     Info
	factory  func() Connector
	sessions = map[uint32]Connector{}
	nextID   uint32
	records  []Record // reused across Write calls
)

// Register declares the plugin. Call it once, from init.
func Register(i Info, newConnector func() Connector) {
	if newConnector == nil {
		panic("connector.Register: nil constructor")
	}
	guest.Register("connector", abi.Description{
		Name: i.Name, Kind: abi.KindConnector, Version: i.Version,
		Description: i.Description, Config: withScope(i.Config, "open"),
	})
	info = i
	factory = newConnector
}

func withScope(keys []ConfigKey, scope string) []ConfigKey {
	out := make([]ConfigKey, len(keys))
	for i, k := range keys {
		if k.Scope == "" {
			k.Scope = scope
		}
		out[i] = k
	}
	return out
}

// open runs Connector.Open for a config document and returns its handle.
func open(cfgJSON []byte) (handle uint32, err error) {
	if factory == nil {
		return 0, errors.New("no connector registered: call connector.Register from init")
	}
	cfg, err := parseConfig(cfgJSON, info.Config)
	if err != nil {
		return 0, err
	}
	defer guest.Recover(&err)
	c := factory()
	if err := c.Open(cfg); err != nil {
		return 0, err
	}
	nextID++
	if nextID == 0 {
		nextID = 1
	}
	sessions[nextID] = c
	return nextID, nil
}

// write decodes a batch and hands it to the connector. It returns how many
// records were delivered.
func write(handle uint32, batch []byte) (accepted int, err error) {
	c, ok := sessions[handle]
	if !ok {
		return 0, fmt.Errorf("connector handle %d is not open", handle)
	}
	br, err := abi.NewBatchReader(batch)
	if err != nil {
		return 0, fmt.Errorf("batch: %w", err)
	}
	recs := records[:0]
	// Records share header arenas: a few allocations per batch instead
	// of one per record. (Each record's headers are capacity-limited, and
	// a full arena is replaced, not regrown, so records never overlap.)
	var arena []abi.Header
	for {
		item, ok := br.Next()
		if !ok {
			break
		}
		if cap(arena)-len(arena) < 16 {
			arena = make([]abi.Header, 0, max(64, 2*cap(arena)))
		}
		r, rest, err := abi.DecodeRecordInto(item, arena)
		arena = rest
		if err != nil {
			return 0, fmt.Errorf("batch record %d: %w", len(recs), err)
		}
		recs = append(recs, Record{Offset: r.Offset, Time: time.UnixMilli(r.TimestampMs),
			Key: r.Key, Headers: r.Headers, Value: r.Value})
	}
	if err := br.Err(); err != nil {
		return 0, fmt.Errorf("batch: %w", err)
	}
	records = recs
	defer clear(records)
	defer guest.Recover(&err)
	if err := c.Write(recs); err != nil {
		var pe *PartialError
		if errors.As(err, &pe) && pe.Written >= 0 && pe.Written <= len(recs) {
			return pe.Written, err
		}
		return 0, err
	}
	return len(recs), nil
}

func closeHandle(handle uint32) (err error) {
	c, ok := sessions[handle]
	if !ok {
		return fmt.Errorf("connector handle %d is not open", handle)
	}
	delete(sessions, handle)
	defer guest.Recover(&err)
	return c.Close()
}
