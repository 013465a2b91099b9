package plugin

import (
	"context"
	"log/slog"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/trellis-cp/trellis/sdk/abi"
)

// timeNow is the clock behind clock_now (a variable for tests).
var timeNow = time.Now

const (
	maxLogMsg   = 8192
	maxLogAttrs = 32
)

// hostLogEnabled answers log_enabled: one comparison in the handler, so a
// plugin can skip formatting a line the node would drop.
func hostLogEnabled(in *instance, _ context.Context, _ api.Module, stack []uint64) {
	if in.p.logger.Enabled(context.Background(), slog.Level(api.DecodeI32(stack[0]))) {
		stack[0] = 1
	} else {
		stack[0] = 0
	}
}

// hostLog writes one of the plugin's log records to the node's log, with
// the plugin's name and its own attributes. Keys the host sets itself
// (module, plugin) are renamed so a plugin cannot pass for another.
func hostLog(in *instance, _ context.Context, mod api.Module, stack []uint64) {
	level := slog.Level(api.DecodeI32(stack[0]))
	if !in.p.logger.Enabled(context.Background(), level) {
		return
	}
	view, ok := read(mod, api.DecodeU32(stack[1]), api.DecodeU32(stack[2]))
	if !ok {
		return
	}
	rec, err := abi.DecodeLogRecord(view)
	if err != nil {
		rec = abi.LogRecord{Msg: "malformed log record from plugin"}
	}
	if len(rec.Msg) > maxLogMsg {
		rec.Msg = rec.Msg[:maxLogMsg] + "…"
	}
	attrs := make([]slog.Attr, 0, min(len(rec.Attrs), maxLogAttrs)+1)
	attrs = append(attrs, slog.String("source", "guest"))
	for i, a := range rec.Attrs {
		if i == maxLogAttrs {
			break
		}
		key := a.Key
		switch key {
		case "module", "plugin", "source", "time", "level", "msg":
			key = "guest." + key
		}
		v := a.Value
		if len(v) > maxLogMsg {
			v = v[:maxLogMsg]
		}
		attrs = append(attrs, slog.String(key, string(v)))
	}
	in.p.logger.LogAttrs(context.Background(), level, rec.Msg, attrs...)
}
