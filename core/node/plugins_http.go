package node

// The plugin API (RobustMQ envelope, like the rest of /api/plugins):
//
//	GET    /api/plugins         read    {"data":[rows],"total_count":N}
//	GET    /api/plugins/{name}  read    one row; 404 when unknown
//	POST   /api/plugins         admin   raw module body; answers the row
//	DELETE /api/plugins/{name}  admin   uploaded plugins only
//
// Uploading and deleting are admin actions: a plugin runs code on every
// node of the cluster.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/auth"
	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/store"
)

// uploadTimeout bounds an upload: loading, storing and loading again here.
const uploadTimeout = 2 * time.Minute

func (n *Node) mountPlugins(r chi.Router) {
	m := n.plugins
	a := n.auth
	a.Route(r, http.MethodGet, "/api/plugins", auth.PermRead, func(w http.ResponseWriter, r *http.Request) {
		rows := m.Rows()
		httpx.RobustOK(w, map[string]any{"data": rows, "total_count": len(rows)})
	})
	a.Route(r, http.MethodGet, "/api/plugins/{name}", auth.PermRead, func(w http.ResponseWriter, r *http.Request) {
		name := chi.URLParam(r, "name")
		row, ok := m.Row(name)
		if !ok {
			pluginError(w, http.StatusNotFound, fmt.Sprintf("plugin %q not found", name))
			return
		}
		httpx.RobustOK(w, row)
	})
	a.Route(r, http.MethodPost, "/api/plugins", auth.PermAdmin, func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "" {
			mt, _, _ := mime.ParseMediaType(ct)
			if mt != "application/wasm" && mt != "application/octet-stream" {
				pluginError(w, http.StatusUnsupportedMediaType,
					fmt.Sprintf("content type %q: send the raw module as application/wasm or application/octet-stream", ct))
				return
			}
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, int64(m.maxBytes)+1))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				pluginError(w, http.StatusRequestEntityTooLarge,
					fmt.Sprintf("module too large: limit is %d bytes (plugins.max_module_bytes)", mbe.Limit))
				return
			}
			pluginError(w, http.StatusBadRequest, "read module: "+err.Error())
			return
		}
		if len(body) > m.maxBytes {
			pluginError(w, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("module too large: limit is %d bytes (plugins.max_module_bytes)", m.maxBytes))
			return
		}
		if len(body) == 0 {
			pluginError(w, http.StatusBadRequest, "empty body: send the module's bytes")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), uploadTimeout)
		defer cancel()
		row, err := m.upload(ctx, body)
		var ref *refusal
		var cf *conflict
		switch {
		case errors.As(err, &ref):
			pluginError(w, http.StatusBadRequest, ref.Error())
		case errors.As(err, &cf):
			pluginError(w, http.StatusConflict, cf.Error())
		case err != nil:
			pluginError(w, http.StatusServiceUnavailable, err.Error())
		default:
			httpx.RobustOK(w, row)
		}
	})
	a.Route(r, http.MethodDelete, "/api/plugins/{name}", auth.PermAdmin, func(w http.ResponseWriter, r *http.Request) {
		name := chi.URLParam(r, "name")
		ok, err := m.storedUpload(r.Context(), name)
		if err != nil {
			pluginError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		if !ok {
			if src := m.sources(name); src[SourceShipped] || src[SourceDir] {
				pluginError(w, http.StatusConflict, fmt.Sprintf(
					"plugin %q was not uploaded: remove its file from bin/plugins or plugins.dir", name))
				return
			}
			pluginError(w, http.StatusNotFound, fmt.Sprintf("plugin %q not found", name))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), uploadTimeout)
		defer cancel()
		if err := m.deleteUploaded(ctx, name); err != nil {
			var cf *conflict
			switch {
			case errors.As(err, &cf):
				pluginError(w, http.StatusConflict, cf.Error())
			case errors.Is(err, store.ErrNotFound):
				pluginError(w, http.StatusNotFound, fmt.Sprintf("plugin %q not found", name))
			default:
				pluginError(w, http.StatusServiceUnavailable, err.Error())
			}
			return
		}
		httpx.RobustOK(w, map[string]any{"name": name, "deleted": true})
	})
}

func pluginError(w http.ResponseWriter, status int, msg string) {
	httpx.ErrorFamily(w, httpx.FamilyRobustMQ, status, msg)
}
