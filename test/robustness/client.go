package robustness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// kvPrefix is where the clients' keys live in the KV v3 API.
const kvPrefix = "/api/kv/v3"

// clientTimeout bounds one request; it is above the nodes' raft request
// timeout (3s), so most unknown outcomes are a node's 503, not a client
// giving up.
const clientTimeout = 6 * time.Second

// sharedTransport keeps connections to every node alive across clients.
var sharedTransport = &http.Transport{
	Proxy:               nil,
	MaxIdleConns:        256,
	MaxIdleConnsPerHost: 64,
	IdleConnTimeout:     30 * time.Second,
	DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
}

// KVClient sends KV v3 requests to one node with the cluster's admin
// session.
type KVClient struct {
	c    *Cluster
	node *Node
	http *http.Client
}

// NewKVClient is a client of node n.
func NewKVClient(c *Cluster, n *Node) *KVClient {
	return &KVClient{c: c, node: n, http: &http.Client{Transport: sharedTransport, Timeout: clientTimeout}}
}

type kvNode struct {
	Key           string `json:"key"`
	Value         string `json:"value"`
	CreatedIndex  int64  `json:"createdIndex"`
	ModifiedIndex int64  `json:"modifiedIndex"`
	Version       int64  `json:"version"`
}

type kvAnswer struct {
	Node  *kvNode `json:"node"`
	Code  string  `json:"code"`
	Error string  `json:"error"`
}

// putBody is the v3 put request; the pointers are omitted when nil.
type putBody struct {
	Key         string  `json:"key"`
	Value       string  `json:"value"`
	PrevValue   *string `json:"prev_value,omitempty"`
	PrevVersion *int64  `json:"prev_version,omitempty"`
}

// Do sends req and classifies the answer.
func (k *KVClient) Do(ctx context.Context, req Request) Response {
	return k.do(ctx, req, 0)
}

// GetAt reads key as of revision rev from the node's local state.
func (k *KVClient) GetAt(ctx context.Context, key string, rev int64) Response {
	return k.do(ctx, Request{Kind: OpStaleGet, Key: key}, rev)
}

func (k *KVClient) do(ctx context.Context, req Request, rev int64) Response {
	var hreq *http.Request
	var err error
	base := "http://" + k.node.HTTPAddr() + kvPrefix
	switch req.Kind {
	case OpGet, OpStaleGet:
		q := url.Values{"key": {req.Key}}
		if req.Kind == OpStaleGet {
			q.Set("serializable", "true")
		}
		if rev > 0 {
			q.Set("revision", fmt.Sprint(rev))
		}
		hreq, err = http.NewRequestWithContext(ctx, http.MethodGet, base+"/get?"+q.Encode(), nil)
	case OpPut, OpCAS:
		b, _ := json.Marshal(putBody{Key: req.Key, Value: req.Value, PrevValue: req.PrevValue, PrevVersion: req.PrevVersion})
		hreq, err = http.NewRequestWithContext(ctx, http.MethodPut, base+"/put", bytes.NewReader(b))
	case OpDelete:
		b, _ := json.Marshal(map[string]string{"key": req.Key})
		hreq, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"/delete", bytes.NewReader(b))
	}
	if err != nil {
		return Response{Outcome: Failed, Err: err.Error()}
	}
	if hreq.Body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	hreq.Header.Set("Authorization", "Bearer "+k.c.Token())
	resp, err := k.http.Do(hreq)
	if err != nil {
		if neverSent(err) {
			return Response{Outcome: Failed, Err: err.Error()}
		}
		return Response{Outcome: Unknown, Err: err.Error()}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{Outcome: Unknown, Status: resp.StatusCode, Err: "reading the answer: " + err.Error()}
	}
	var ans kvAnswer
	jerr := json.Unmarshal(raw, &ans)
	out := Response{Status: resp.StatusCode}
	switch {
	case resp.StatusCode == http.StatusOK && jerr == nil:
		out.Outcome = OK
		if ans.Node != nil {
			out.Found, out.Value, out.ModRev, out.Version = true, ans.Node.Value, ans.Node.ModifiedIndex, ans.Node.Version
		}
		if req.Kind == OpDelete {
			out.Found = false
		}
	case resp.StatusCode == http.StatusNotFound && ans.Code == "key_not_found" && (req.Kind == OpGet || req.Kind == OpStaleGet):
		out.Outcome, out.Found = OK, false
	case resp.StatusCode == http.StatusConflict && ans.Code == "compare_failed" && req.Kind == OpCAS:
		out.Outcome = CompareFailed
	case definiteRefusal(resp.StatusCode):
		out.Outcome, out.Err = Failed, fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(raw))
	default:
		out.Outcome, out.Err = Unknown, fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	return out
}

// definiteRefusal: statuses a KV write gets before anything is proposed
// (bad request, no session, no permission, not found, too large, rate
// limited). A 5xx may come after the proposal and is an unknown outcome.
func definiteRefusal(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		return true
	}
	return false
}

// neverSent reports whether err means the request never left the client:
// the connection could not be made.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
