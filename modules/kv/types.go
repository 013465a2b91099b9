package kv

// The JSON shapes of etcdmonitor's KV API (internal/kvmanager/types.go in
// domac/etcdmonitor), field for field, omitempty where etcdmonitor has it:
// its web frontend reads these names.

// Node is a key or a directory.
type Node struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
	Dir   bool   `json:"dir"`
	TTL   int64  `json:"ttl,omitempty"`
	// CreatedIndex and ModifiedIndex are store revisions; Version counts
	// writes since creation (v3 only).
	CreatedIndex  int64  `json:"createdIndex,omitempty"`
	ModifiedIndex int64  `json:"modifiedIndex,omitempty"`
	Version       int64  `json:"version,omitempty"`
	Nodes         []Node `json:"nodes,omitempty"`
}

// NodeResponse answers get, getpath, keys and put.
type NodeResponse struct {
	Node Node `json:"node"`
}

// ConnectInfo answers connect.
type ConnectInfo struct {
	Version string `json:"version"`
	Name    string `json:"name"`
	Size    int64  `json:"size"`
	SizeStr string `json:"size_str"`
}

// PutRequest is put's body. Dir makes a v2 directory and is accepted and
// ignored by v3, as etcdmonitor does. PrevValue and PrevVersion are
// Trellis's compare-and-swap: pointers, because an absent condition and an
// empty value (or version 0, "must not exist") differ.
type PutRequest struct {
	Key         string  `json:"key"`
	Value       string  `json:"value"`
	TTL         int64   `json:"ttl,omitempty"`
	Dir         bool    `json:"dir,omitempty"`
	PrevValue   *string `json:"prev_value,omitempty"`
	PrevVersion *int64  `json:"prev_version,omitempty"`
}

// DeleteRequest is delete's body.
type DeleteRequest struct {
	Key string `json:"key"`
	Dir bool   `json:"dir"`
}

// ErrorResponse is every error this module writes. Message repeats Error,
// as etcdmonitor's writeError does.
type ErrorResponse struct {
	Error   string `json:"error"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// SeparatorResponse answers separator.
type SeparatorResponse struct {
	Separator string `json:"separator"`
}

// MessageResponse answers delete.
type MessageResponse struct {
	Message string `json:"message"`
}

// WatchEvent is the data of one watch stream message.
type WatchEvent struct {
	// Type is PUT, DELETE or EXPIRE.
	Type  string `json:"type"`
	Key   string `json:"key"`
	Value string `json:"value"`
	// CreatedIndex is the key's create revision; ModifiedIndex the
	// revision of this change (the delete's, for DELETE and EXPIRE).
	CreatedIndex  int64 `json:"createdIndex"`
	ModifiedIndex int64 `json:"modifiedIndex"`
	Version       int64 `json:"version"`
}
