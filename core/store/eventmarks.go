package store

import "sync"

// eventMarks remembers, per namespace, the newest revision that wrote a
// change-log event, so that a watcher of a namespace nobody writes to
// does not open a Badger iterator after every apply of another one (the
// plugin and session watchers did, once per KV put).
//
// Apply notes events while it writes them and publishes the marks before
// it publishes the applied index: a reader that loads the applied index
// and then asks sees every event at or below it.
type eventMarks struct {
	// pending is this Apply's namespaces; Ready loop only, under writeMu.
	pending map[string]int64

	mu sync.Mutex
	// floor is the applied index when the marks started (open, snapshot
	// restore): any namespace may hold events up to it.
	floor int64
	byNS  map[string]int64
}

// reset forgets every namespace's mark; all may have events up to rev.
func (m *eventMarks) reset(rev int64) {
	m.mu.Lock()
	m.floor, m.byNS = rev, map[string]int64{}
	m.mu.Unlock()
}

// note records an event of ns at rev, not yet visible.
func (m *eventMarks) note(ns string, rev int64) {
	if m.pending == nil {
		m.pending = map[string]int64{}
	}
	m.pending[ns] = rev
}

// publish makes the noted events visible to since.
func (m *eventMarks) publish() {
	if len(m.pending) == 0 {
		return
	}
	m.mu.Lock()
	for ns, rev := range m.pending {
		if rev > m.byNS[ns] {
			m.byNS[ns] = rev
		}
	}
	m.mu.Unlock()
	clear(m.pending)
}

// drop forgets noted events that were not applied (a failed Apply).
func (m *eventMarks) drop() { clear(m.pending) }

// mayHaveAfter reports whether ns may hold events above rev. False only
// when it certainly holds none.
func (m *eventMarks) mayHaveAfter(ns string, rev int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return max(m.floor, m.byNS[ns]) > rev
}
