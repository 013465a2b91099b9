//go:build !wasip1

package hostcall

// LogEnabled is false outside a plugin.
func LogEnabled(level int32) bool { return false }

// Log does nothing outside a plugin.
func Log(level int32, rec []byte) {}

// ConfigGet fails outside a plugin.
func ConfigGet(key string) (string, error) { return "", ErrNotInPlugin }

// ClockNow is 0 outside a plugin (sdk/host falls back to time.Now).
func ClockNow() int64 { return 0 }

// HTTPRequest fails outside a plugin.
func HTTPRequest(req []byte) (int32, error) { return 0, ErrNotInPlugin }

// HTTPResponse fails outside a plugin.
func HTTPResponse(h int32) ([]byte, error) { return nil, ErrNotInPlugin }

// HTTPBodyRead fails outside a plugin.
func HTTPBodyRead(h int32, p []byte) (int, error) { return 0, ErrNotInPlugin }

// HTTPClose fails outside a plugin.
func HTTPClose(h int32) error { return ErrNotInPlugin }

// TCPDial fails outside a plugin.
func TCPDial(addr string) (int32, error) { return 0, ErrNotInPlugin }

// TCPRead fails outside a plugin.
func TCPRead(h int32, p []byte) (int, error) { return 0, ErrNotInPlugin }

// TCPWrite fails outside a plugin.
func TCPWrite(h int32, p []byte) (int, error) { return 0, ErrNotInPlugin }

// TCPSetDeadline fails outside a plugin.
func TCPSetDeadline(h, which int32, unixNano int64) error { return ErrNotInPlugin }

// TCPClose fails outside a plugin.
func TCPClose(h int32) error { return ErrNotInPlugin }

// FileOpen fails outside a plugin.
func FileOpen(path string, flags int32) (int32, error) { return 0, ErrNotInPlugin }

// FileRead fails outside a plugin.
func FileRead(h int32, p []byte) (int, error) { return 0, ErrNotInPlugin }

// FileWrite fails outside a plugin.
func FileWrite(h int32, p []byte) (int, error) { return 0, ErrNotInPlugin }

// FileClose fails outside a plugin.
func FileClose(h int32) error { return ErrNotInPlugin }

// MetricCounterAdd fails outside a plugin.
func MetricCounterAdd(name string, delta float64) error { return ErrNotInPlugin }

// MetricGaugeSet fails outside a plugin.
func MetricGaugeSet(name string, value float64) error { return ErrNotInPlugin }
