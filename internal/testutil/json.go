package testutil

import (
	"github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// StrictJSON is the fuzz tests' own reading of a request body by
// httpx.DecodeJSON's contract: exactly one JSON value, no member the
// target lacks, names matched regardless of case but otherwise as written,
// no name twice and valid UTF-8. It reports whether data decodes into dst
// under those rules. It decodes the whole slice at once, apart from
// DecodeJSON's streaming path, so the two check each other.
func StrictJSON(data []byte, dst any) bool {
	return json.Unmarshal(data, dst,
		json.RejectUnknownMembers(true),
		json.MatchCaseInsensitiveNames(true),
		jsonv1.MatchCaseSensitiveDelimiter(true),
	) == nil
}
