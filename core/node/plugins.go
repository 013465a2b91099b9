package node

// Plugin distribution: the node's plugin host and registry, fed from three
// sources. Shipped plugins are the .wasm files in bin/plugins next to the
// binary; dir plugins are the .wasm files in plugins.dir (watched while
// the node runs); uploaded plugins live in the replicated store
// (namespace core.plugins) so that every node loads the same module.
//
// A name may come from several sources; the registry serves the loaded
// one with the highest precedence: uploaded, then dir, then shipped. Every
// plugin gets the default manifest (plugin.Manifest{}: compute, log and
// the clock, nothing more) until the config grows a manifest section.

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/plugin"
	"github.com/trellis-cp/trellis/core/store"
)

// PluginNamespace is the store namespace of uploaded plugins.
const PluginNamespace = "core.plugins"

// Plugin sources, in increasing precedence.
const (
	SourceShipped  = "shipped"
	SourceDir      = "dir"
	SourceUploaded = "uploaded"
)

var sourceRank = map[string]int{SourceShipped: 0, SourceDir: 1, SourceUploaded: 2}

// EnvShippedPlugins overrides the directory of shipped plugins (default:
// the plugins directory next to the running binary, bin/plugins for
// bin/trellis). Tests and packagers set it.
const EnvShippedPlugins = "TRELLIS_SHIPPED_PLUGINS"

// Store layout of an uploaded plugin: meta/<name> holds pluginMeta (JSON),
// chunk/<name>/<sha256>/<i> the module in chunks, written before the meta
// key. A chunk stays well under raft's 1 MiB message size and the store's
// 4 MiB value limit.
const (
	metaPrefix  = "meta/"
	chunkPrefix = "chunk/"
	pluginChunk = 512 << 10
)

type pluginMeta struct {
	Name     string    `json:"name"`
	SHA256   string    `json:"sha256"`
	Size     int       `json:"size"`
	Chunks   int       `json:"chunks"`
	Uploaded time.Time `json:"uploaded"`
}

// PluginRow is one plugin as GET /api/plugins lists it. Status is loaded,
// error (Error says why) or, briefly, loading: a file plugin that an upload
// or dir plugin shadowed is loaded again when it serves once more.
type PluginRow struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Version     string `json:"version"`
	SHA256      string `json:"sha256"`
	Source      string `json:"source"`
	Status      string `json:"status"`
	Error       string `json:"error"`
	Description string `json:"description"`
	ABIVersion  int    `json:"abi_version"`
	Size        int    `json:"size"`
}

// pluginEntry is one (name, source) slot: a loaded plugin or a load error.
type pluginEntry struct {
	name, source, path string
	sha256             string
	size               int
	p                  *plugin.Plugin
	err                error
	// replaceErr says why a newer file at path did not replace p, which
	// keeps serving; cleared when a file loads or the slot changes.
	replaceErr error
}

func (e *pluginEntry) row() PluginRow {
	r := PluginRow{Name: e.name, Source: e.source, SHA256: e.sha256, Size: e.size, Status: "loaded"}
	if e.err != nil {
		r.Status, r.Error = "error", e.err.Error()
	}
	if e.replaceErr != nil {
		r.Error = "the previous version keeps serving; the new file did not load: " + e.replaceErr.Error()
	}
	if e.p != nil && e.p.Retired() {
		// A shadowed file plugin being loaded again (see reload).
		r.Status = "loading"
	}
	if e.p != nil {
		d := e.p.Describe()
		r.Kind, r.Version, r.Description, r.ABIVersion = string(d.Kind), d.Version, d.Description, d.ABIVersion
	}
	return r
}

// pluginManager owns the host, the registry and the entries of every source.
type pluginManager struct {
	host   *plugin.Host
	reg    *plugin.Registry
	ns     *store.Namespace
	logger *slog.Logger
	dir    string // plugins.dir, absolute; empty when unset

	manifests map[string]plugin.Manifest // plugins.manifests, decoded
	maxBytes  int                        // plugins.max_module_bytes

	mu      sync.Mutex
	entries map[string]map[string]*pluginEntry // name -> source -> entry
	applied chan struct{}                      // closed and replaced after each change

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newPluginManager(host *plugin.Host, ns *store.Namespace, cfg config.PluginsConfig,
	manifests map[string]plugin.Manifest, logger *slog.Logger) *pluginManager {
	dir := cfg.Dir
	if dir != "" {
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
	}
	return &pluginManager{
		host: host, reg: plugin.NewRegistry(), ns: ns, dir: dir,
		manifests: manifests, maxBytes: int(cfg.MaxModuleBytes),
		logger:  logger.With("module", "plugins"),
		entries: map[string]map[string]*pluginEntry{},
		applied: make(chan struct{}),
	}
}

// shippedPluginDir is $TRELLIS_SHIPPED_PLUGINS, else <binary dir>/plugins.
func shippedPluginDir() string {
	if d := os.Getenv(EnvShippedPlugins); d != "" {
		return d
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return filepath.Join(filepath.Dir(exe), "plugins")
}

// start loads the shipped, dir and uploaded plugins, then follows the
// store and plugins.dir in the background.
func (m *pluginManager) start(ctx context.Context) {
	m.loadDir(ctx, shippedPluginDir(), SourceShipped)
	if m.dir != "" {
		m.loadDir(ctx, m.dir, SourceDir)
	}
	rev := m.syncAllUploaded(ctx)
	// Compiling a module leaves a garbage heap several times its size
	// (about 250 MiB for the shipped validators on a first start); hand it
	// back to the OS now rather than leave it to the background scavenger.
	debug.FreeOSMemory()
	wctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.watchStore(wctx, rev)
	}()
	if m.dir != "" {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.watchDir(wctx)
		}()
	}
}

// stop ends the watchers and closes every plugin.
func (m *pluginManager) stop(ctx context.Context) error {
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	m.mu.Lock()
	var all []*plugin.Plugin
	for _, bySrc := range m.entries {
		for _, e := range bySrc {
			if e.p != nil {
				all = append(all, e.p)
			}
		}
	}
	m.entries = map[string]map[string]*pluginEntry{}
	m.mu.Unlock()
	err := m.reg.Close(ctx)
	for _, p := range all {
		if cerr := p.Close(ctx); cerr != nil && !errors.Is(cerr, plugin.ErrClosed) {
			err = errors.Join(err, cerr)
		}
	}
	return err
}

// loadDir loads every *.wasm file of dir as source src. A missing dir is
// not an error.
func (m *pluginManager) loadDir(ctx context.Context, dir, src string) {
	if dir == "" {
		return
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.wasm"))
	if err != nil {
		m.logger.Warn("list plugins", "dir", dir, "err", err)
		return
	}
	// Compiling is the slow part of a first start (seconds for a large
	// module): compile the files side by side.
	var wg sync.WaitGroup
	for _, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.loadFile(ctx, f, src)
		}()
	}
	wg.Wait()
}

// fileName is the plugin name of a file: its base name without .wasm.
func fileName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), ".wasm")
}

// loadFile loads path as source src; a failure is kept as an error entry.
func (m *pluginManager) loadFile(ctx context.Context, path, src string) {
	name := fileName(path)
	b, err := os.ReadFile(path)
	e := &pluginEntry{name: name, source: src, path: path}
	if err == nil && len(b) > m.maxBytes {
		err = fmt.Errorf("plugin %s: %d bytes, limit is %d (plugins.max_module_bytes)", name, len(b), m.maxBytes)
	}
	cur := m.entry(name, src)
	if err == nil {
		sum := sha256.Sum256(b)
		e.sha256, e.size = hex.EncodeToString(sum[:]), len(b)
		if cur != nil && cur.sha256 == e.sha256 && cur.p != nil && !cur.p.Retired() && cur.path == path {
			return // unchanged
		}
		e.p, err = m.host.Load(ctx, name, b, m.manifest(name))
		if err == nil && e.p.Describe().Name != name {
			m.logger.Warn("plugin file name differs from the name it describes; serving it as the file name",
				"file", path, "describes", e.p.Describe().Name)
		}
	}
	if err != nil && cur != nil && cur.p != nil && !cur.p.Retired() && cur.path == path {
		// A bad replacement: keep the loaded version serving.
		m.logger.Warn("plugin file not loaded; the previous version keeps serving",
			"file", path, "source", src, "serving", shortSHA(cur.sha256), "err", err)
		m.mu.Lock()
		cur.replaceErr = err
		m.notifyLocked()
		m.mu.Unlock()
		return
	}
	if err != nil {
		e.err = err
		m.logger.Warn("plugin not loaded", "file", path, "source", src, "err", err)
	}
	m.install(e)
}

// manifest is what plugins.manifests grants name (the zero Manifest,
// deny by default, when it has no entry).
func (m *pluginManager) manifest(name string) plugin.Manifest {
	return m.manifests[name]
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func (m *pluginManager) entry(name, src string) *pluginEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.entries[name][src]
}

// install puts e in its slot, retires what it replaces and updates the
// registry to the loaded entry of highest precedence.
func (m *pluginManager) install(e *pluginEntry) {
	m.mu.Lock()
	reload := m.installLocked(e)
	m.mu.Unlock()
	m.reload(reload)
}

// reload loads a file entry again: the registry retires a version it
// swaps out, so a shipped plugin shadowed by a dir or uploaded one is
// loaded afresh when it serves again.
func (m *pluginManager) reload(e *pluginEntry) {
	if e == nil || e.path == "" {
		return
	}
	m.loadFile(context.Background(), e.path, e.source)
}

func (m *pluginManager) installLocked(e *pluginEntry) *pluginEntry {
	bySrc := m.entries[e.name]
	if bySrc == nil {
		bySrc = map[string]*pluginEntry{}
		m.entries[e.name] = bySrc
	}
	old := bySrc[e.source]
	bySrc[e.source] = e
	reload := m.refreshLocked(e.name)
	if old != nil && old.p != nil && old.p != e.p {
		old.p.Retire()
	}
	return reload
}

// remove empties the slot (name, src).
func (m *pluginManager) remove(name, src string) bool {
	m.mu.Lock()
	old, ok := m.entries[name][src]
	if !ok {
		m.mu.Unlock()
		return false
	}
	delete(m.entries[name], src)
	if len(m.entries[name]) == 0 {
		delete(m.entries, name)
	}
	reload := m.refreshLocked(name)
	m.mu.Unlock()
	if old.p != nil {
		old.p.Retire()
	}
	m.reload(reload)
	return true
}

// refreshLocked makes the registry serve the best loaded entry of name. It
// returns a file entry to load again when the best one was retired by an
// earlier swap.
func (m *pluginManager) refreshLocked(name string) (reload *pluginEntry) {
	defer m.notifyLocked()
	best := m.bestLocked(name)
	if best != nil && best.p != nil && best.p.Retired() {
		if m.reg.Get(name) != best.p {
			m.reg.Remove(name)
		}
		return best
	}
	if best != nil && best.p != nil {
		if m.reg.Get(name) != best.p {
			m.reg.Put(best.p)
		}
	} else if m.reg.Get(name) != nil {
		m.reg.Remove(name)
	}
	return nil
}

// notifyLocked wakes everyone waiting for a change of the entries.
func (m *pluginManager) notifyLocked() {
	close(m.applied)
	m.applied = make(chan struct{})
}

// bestLocked is the loaded entry of highest precedence, else the entry of
// highest precedence (an error), else nil.
func (m *pluginManager) bestLocked(name string) *pluginEntry {
	var best, bestErr *pluginEntry
	for _, e := range m.entries[name] {
		if e.p != nil && (best == nil || sourceRank[e.source] > sourceRank[best.source]) {
			best = e
		}
		if bestErr == nil || sourceRank[e.source] > sourceRank[bestErr.source] {
			bestErr = e
		}
	}
	if best != nil {
		return best
	}
	return bestErr
}

// Rows lists every plugin name once, as its serving (or best failed)
// entry, sorted by name.
func (m *pluginManager) Rows() []PluginRow {
	m.mu.Lock()
	defer m.mu.Unlock()
	rows := make([]PluginRow, 0, len(m.entries))
	for name := range m.entries {
		if e := m.bestLocked(name); e != nil {
			rows = append(rows, e.row())
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows
}

// Row is the row of name, if any.
func (m *pluginManager) Row(name string) (PluginRow, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.bestLocked(name)
	if e == nil {
		return PluginRow{}, false
	}
	return e.row(), true
}

// sources reports which sources hold name.
func (m *pluginManager) sources(name string) map[string]bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]bool{}
	for s := range m.entries[name] {
		out[s] = true
	}
	return out
}

// waitUploaded waits until the uploaded entry of name has digest sha (or,
// with sha empty, is gone).
func (m *pluginManager) waitUploaded(ctx context.Context, name, sha string) (*pluginEntry, error) {
	for {
		m.mu.Lock()
		e := m.entries[name][SourceUploaded]
		ch := m.applied
		m.mu.Unlock()
		if (sha == "" && e == nil) || (sha != "" && e != nil && e.sha256 == sha) {
			return e, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// syncAllUploaded loads every uploaded plugin in the local store and
// drops uploaded entries that are no longer there; it returns the
// revision it read at.
func (m *pluginManager) syncAllUploaded(ctx context.Context) int64 {
	res, err := m.ns.List(ctx, metaPrefix, store.ListOptions{Serializable: true, KeysOnly: true})
	if err != nil {
		m.logger.Warn("list uploaded plugins", "err", err)
		return 0
	}
	seen := map[string]bool{}
	for _, kv := range res.KVs {
		name := strings.TrimPrefix(kv.Key, metaPrefix)
		seen[name] = true
		m.syncUploaded(ctx, name)
	}
	m.mu.Lock()
	var gone []string
	for name, bySrc := range m.entries {
		if _, ok := bySrc[SourceUploaded]; ok && !seen[name] {
			gone = append(gone, name)
		}
	}
	m.mu.Unlock()
	for _, name := range gone {
		m.remove(name, SourceUploaded)
	}
	return res.Revision
}

// syncUploaded brings the uploaded entry of name in line with the store.
func (m *pluginManager) syncUploaded(ctx context.Context, name string) {
	kv, err := m.ns.Get(ctx, metaPrefix+name, store.ReadOptions{Serializable: true})
	if errors.Is(err, store.ErrNotFound) {
		if m.remove(name, SourceUploaded) {
			m.logger.Info("uploaded plugin removed", "plugin", name)
		}
		return
	}
	if err != nil {
		m.logger.Warn("read uploaded plugin", "plugin", name, "err", err)
		return
	}
	var meta pluginMeta
	if err := json.Unmarshal(kv.Value, &meta); err != nil {
		m.install(&pluginEntry{name: name, source: SourceUploaded, err: fmt.Errorf("plugin %s: bad store record: %w", name, err)})
		return
	}
	if cur := m.entry(name, SourceUploaded); cur != nil && cur.sha256 == meta.SHA256 {
		return
	}
	e := &pluginEntry{name: name, source: SourceUploaded, sha256: meta.SHA256, size: meta.Size}
	b, err := m.readChunks(ctx, meta)
	if err == nil {
		mf := m.manifest(name)
		if mf.SHA256 == "" {
			mf.SHA256 = meta.SHA256 // what was stored is what runs
		}
		e.p, err = m.host.Load(ctx, name, b, mf)
	}
	if err != nil {
		e.err = err
		m.logger.Warn("uploaded plugin not loaded", "plugin", name, "err", err)
	}
	m.install(e)
}

func chunkKey(name, sha string, i int) string {
	return fmt.Sprintf("%s%s/%s/%06d", chunkPrefix, name, sha, i)
}

func (m *pluginManager) readChunks(ctx context.Context, meta pluginMeta) ([]byte, error) {
	b := make([]byte, 0, meta.Size)
	for i := 0; i < meta.Chunks; i++ {
		kv, err := m.ns.Get(ctx, chunkKey(meta.Name, meta.SHA256, i), store.ReadOptions{Serializable: true})
		if err != nil {
			return nil, fmt.Errorf("plugin %s: chunk %d: %w", meta.Name, i, err)
		}
		b = append(b, kv.Value...)
	}
	if len(b) != meta.Size {
		return nil, fmt.Errorf("plugin %s: stored module is %d bytes, want %d", meta.Name, len(b), meta.Size)
	}
	return b, nil
}

// watchStore follows meta/ keys from rev on; after an error it re-reads
// everything (syncUploaded reads the newest local state, so an event is
// only a hint) and watches again from there.
func (m *pluginManager) watchStore(ctx context.Context, rev int64) {
	for ctx.Err() == nil {
		ch, err := m.ns.Watch(ctx, metaPrefix, rev+1)
		if err != nil {
			m.logger.Warn("watch uploaded plugins", "err", err)
		} else {
			for resp := range ch {
				if resp.Err != nil {
					m.logger.Warn("watch uploaded plugins", "err", resp.Err)
					break
				}
				done := map[string]bool{}
				for _, ev := range resp.Events {
					name := strings.TrimPrefix(ev.KV.Key, metaPrefix)
					if !done[name] {
						done[name] = true
						m.syncUploaded(ctx, name)
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		rev = m.syncAllUploaded(ctx)
	}
}

// upload checks wasm by loading it, stores it and waits until this node
// serves it. A refusal stores nothing.
func (m *pluginManager) upload(ctx context.Context, wasm []byte) (PluginRow, error) {
	if len(wasm) > m.maxBytes {
		return PluginRow{}, &refusal{fmt.Errorf("module is %d bytes, limit is %d (plugins.max_module_bytes)", len(wasm), m.maxBytes)}
	}
	probe, err := m.host.Load(ctx, "upload-check", wasm, plugin.Manifest{WarmInstances: 1, MaxInstances: 1})
	if err != nil {
		// The probe's name means nothing to the caller.
		return PluginRow{}, &refusal{errors.New(strings.TrimPrefix(err.Error(), "plugin upload-check: "))}
	}
	name := probe.Describe().Name
	_ = probe.Close(ctx)
	if s := m.sources(name); s[SourceShipped] || s[SourceDir] {
		m.logger.Info("uploaded plugin shadows a file plugin", "plugin", name)
	}
	sum := sha256.Sum256(wasm)
	meta := pluginMeta{Name: name, SHA256: hex.EncodeToString(sum[:]), Size: len(wasm), Uploaded: time.Now().UTC()}
	var previous *pluginMeta
	var prevRev int64 // mod revision of meta/<name>; 0 when absent
	if kv, err := m.ns.Get(ctx, metaPrefix+name, store.ReadOptions{}); err == nil {
		prevRev = kv.ModRevision
		var pm pluginMeta
		if json.Unmarshal(kv.Value, &pm) == nil {
			previous = &pm
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return PluginRow{}, fmt.Errorf("read plugin %s: %w", name, err)
	}
	for off := 0; off < len(wasm); off += pluginChunk {
		end := min(off+pluginChunk, len(wasm))
		if _, err := m.ns.Put(ctx, chunkKey(name, meta.SHA256, meta.Chunks), wasm[off:end], store.PutOptions{}); err != nil {
			m.dropChunks(name, meta.SHA256, previous)
			return PluginRow{}, fmt.Errorf("store plugin %s: %w", name, err)
		}
		meta.Chunks++
	}
	mb, _ := json.Marshal(meta)
	put, err := m.ns.PutOp(metaPrefix+name, mb, store.PutOptions{})
	if err != nil {
		return PluginRow{}, err
	}
	// The meta key moves only from the version read above, so that two
	// uploads or an upload and a delete of one name cannot interleave.
	success := []store.Op{put}
	if previous != nil && previous.SHA256 != meta.SHA256 {
		ops, err := m.chunkDeletes(*previous)
		if err != nil {
			return PluginRow{}, err
		}
		success = append(success, ops...)
	}
	res, err := m.ns.Txn(ctx, []store.Compare{m.ns.CmpNumber(metaPrefix+name, store.CompareModRevision, store.Equal, prevRev)},
		success, nil)
	if err != nil {
		m.dropChunks(name, meta.SHA256, previous)
		return PluginRow{}, fmt.Errorf("store plugin %s: %w", name, err)
	}
	if !res.Succeeded {
		cur, err := m.ns.Get(ctx, metaPrefix+name, store.ReadOptions{})
		var cm pluginMeta
		// A concurrent upload of the same module that won is as good.
		if err != nil || json.Unmarshal(cur.Value, &cm) != nil || cm.SHA256 != meta.SHA256 {
			m.dropChunks(name, meta.SHA256, nil)
			return PluginRow{}, &conflict{fmt.Errorf("plugin %s changed during the upload; try again", name)}
		}
	}
	e, err := m.waitUploaded(ctx, name, meta.SHA256)
	if err != nil {
		return PluginRow{}, fmt.Errorf("plugin %s stored, not loaded here yet: %w", name, err)
	}
	return e.row(), nil
}

// dropChunks removes the chunks of a failed upload, unless they are the
// stored version's.
func (m *pluginManager) dropChunks(name, sha string, previous *pluginMeta) {
	if previous != nil && previous.SHA256 == sha {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = m.ns.DeletePrefix(ctx, chunkPrefix+name+"/"+sha+"/")
}

// deleteUploaded removes an uploaded plugin from the store and waits until
// this node has dropped it.
func (m *pluginManager) deleteUploaded(ctx context.Context, name string) error {
	kv, err := m.ns.Get(ctx, metaPrefix+name, store.ReadOptions{})
	if err != nil {
		return err
	}
	del, err := m.ns.DeleteOp(metaPrefix + name)
	if err != nil {
		return err
	}
	ops := []store.Op{del}
	var meta pluginMeta
	if json.Unmarshal(kv.Value, &meta) == nil {
		chunks, err := m.chunkDeletes(meta)
		if err != nil {
			return err
		}
		ops = append(ops, chunks...)
	}
	res, err := m.ns.Txn(ctx, []store.Compare{m.ns.CmpNumber(metaPrefix+name, store.CompareModRevision, store.Equal, kv.ModRevision)},
		ops, nil)
	if err != nil {
		return err
	}
	if !res.Succeeded {
		return &conflict{fmt.Errorf("plugin %s changed during the delete; try again", name)}
	}
	_, err = m.waitUploaded(ctx, name, "")
	return err
}

// chunkDeletes are the ops that delete the chunks of meta.
func (m *pluginManager) chunkDeletes(meta pluginMeta) ([]store.Op, error) {
	var ops []store.Op
	for i := 0; i < meta.Chunks; i++ {
		op, err := m.ns.DeleteOp(chunkKey(meta.Name, meta.SHA256, i))
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// storedUpload reports whether name is uploaded (a linearizable read).
func (m *pluginManager) storedUpload(ctx context.Context, name string) (bool, error) {
	_, err := m.ns.Get(ctx, metaPrefix+name, store.ReadOptions{})
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// conflict is an upload or delete that raced another (409).
type conflict struct{ err error }

func (c *conflict) Error() string { return c.err.Error() }
func (c *conflict) Unwrap() error { return c.err }

// refusal is an upload refused for its content (a 4xx).
type refusal struct{ err error }

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// dirDebounce is how long a .wasm file in plugins.dir must stay quiet
// before it is loaded: a copy writes in several steps.
const dirDebounce = 300 * time.Millisecond

// watchDir follows plugins.dir: a .wasm file added or replaced is loaded
// (swapped in once loaded; in-flight calls finish on the old version), one
// removed is unloaded.
func (m *pluginManager) watchDir(ctx context.Context) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		m.logger.Warn("watch plugins.dir", "dir", m.dir, "err", err)
		return
	}
	defer w.Close()
	for {
		if err = w.Add(m.dir); err == nil {
			break
		}
		// The directory may appear later.
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
	pending := map[string]time.Time{}
	tick := time.NewTicker(dirDebounce / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if strings.HasSuffix(ev.Name, ".wasm") {
				pending[ev.Name] = time.Now()
			}
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			m.logger.Warn("watch plugins.dir", "dir", m.dir, "err", err)
		case now := <-tick.C:
			for path, at := range pending {
				if now.Sub(at) < dirDebounce {
					continue
				}
				delete(pending, path)
				m.syncFile(ctx, path)
			}
		}
	}
}

// syncFile loads path, or unloads it when it is gone.
func (m *pluginManager) syncFile(ctx context.Context, path string) {
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
		m.loadFile(ctx, path, SourceDir)
		return
	}
	name := fileName(path)
	if e := m.entry(name, SourceDir); e != nil && e.path == path {
		m.remove(name, SourceDir)
		m.logger.Info("plugin file removed", "plugin", name, "file", path)
	}
}

// startPlugins creates the plugin host (compilation cache under the data
// dir) and registry, and loads every source.
func (n *Node) startPlugins(ctx context.Context) error {
	host, err := plugin.NewHost(plugin.Options{
		CacheDir: cmp.Or(n.cfg.Plugins.CacheDir, filepath.Join(n.cfg.Node.DataDir, "plugin-cache")),
		Logger:   n.logger,
		Metrics:  n.metrics.Registerer(),
	})
	if err != nil {
		return fmt.Errorf("node: plugins: %w", err)
	}
	ns, err := n.store.Namespace(PluginNamespace)
	if err != nil {
		return err
	}
	n.plugins = newPluginManager(host, ns, n.cfg.Plugins, n.manifests, n.logger)
	n.plugins.start(ctx)
	return nil
}

// stopPlugins closes the registry, then the host.
func (n *Node) stopPlugins(ctx context.Context) error {
	if n.plugins == nil {
		return nil
	}
	err := n.plugins.stop(ctx)
	if cerr := n.plugins.host.Close(ctx); cerr != nil {
		err = errors.Join(err, cerr)
	}
	n.plugins = nil
	return err
}

// Plugins is the node's plugin registry.
func (n *Node) Plugins() *plugin.Registry {
	if n.plugins == nil {
		return nil
	}
	return n.plugins.reg
}

// decodeManifests decodes and checks plugins.manifests, so a bad grant
// stops the node at start-up with the key at fault.
func decodeManifests(raw map[string]map[string]any) (map[string]plugin.Manifest, error) {
	out := make(map[string]plugin.Manifest, len(raw))
	for name, opts := range raw {
		var mf plugin.Manifest
		if err := config.DecodeManifest(name, opts, &mf); err != nil {
			return nil, err
		}
		if err := mf.Validate(); err != nil {
			return nil, fmt.Errorf("config: plugins.manifests.%s: %w", name, err)
		}
		out[name] = mf
	}
	return out, nil
}
