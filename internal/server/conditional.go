package server

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// Conditional requests: If-Match on writes, ETag on answers. An ETag is
// an object's revision in double quotes.

// setETag publishes the revision of the object a body holds, if it has one.
func setETag(w http.ResponseWriter, body []byte) {
	var rev struct {
		Revision int64 `json:"revision"`
	}
	if json.Unmarshal(body, &rev) == nil && rev.Revision > 0 {
		w.Header().Set("ETag", etag(rev.Revision))
	}
}

func etag(rev int64) string { return `"` + strconv.FormatInt(rev, 10) + `"` }

// writeObject answers a read of one object, with its ETag.
func writeObject(w http.ResponseWriter, rev int64, v any) {
	w.Header().Set("ETag", etag(rev))
	writeJSON(w, http.StatusOK, v)
}

// precondition is a request's If-Match header (RFC 9110, section 13.1.1):
// absent, "*" (any current revision), or a list of entity tags. Only a
// strong tag whose opaque part is a revision can match; any other valid tag
// (a weak one, "0", "abc") is well formed and matches nothing, so it is a
// 412, not a 400.
type precondition struct {
	header string
	any    bool
	revs   []int64
}

// parseIfMatch reads an If-Match header; a malformed one is a 400.
func parseIfMatch(r *http.Request) (precondition, error) {
	raw := r.Header.Values("If-Match")
	pc := precondition{header: strings.Join(raw, ", ")}
	v := strings.TrimSpace(pc.header)
	if v == "" {
		return precondition{}, nil
	}
	if v == "*" {
		pc.any = true
		return pc, nil
	}
	malformed := errBadRequest("If-Match", "If-Match must be \"*\" or entity tags in double quotes, such as the ETag \"3\" this server returned; got %s", shortQuote(pc.header))
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue // RFC 9110 lists may hold empty elements.
		}
		weak := strings.HasPrefix(item, "W/")
		tag := strings.TrimPrefix(item, "W/")
		if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' || !validETagChars(tag[1:len(tag)-1]) {
			return precondition{}, malformed
		}
		if weak {
			continue // If-Match compares strongly: a weak tag never matches.
		}
		if rev, err := strconv.ParseInt(tag[1:len(tag)-1], 10, 64); err == nil && rev > 0 {
			pc.revs = append(pc.revs, rev)
		}
	}
	return pc, nil
}

// validETagChars reports whether s is the opaque part of an entity tag:
// etagc = %x21 / %x23-7E / obs-text.
func validETagChars(s string) bool {
	for i := range len(s) {
		if c := s[i]; c < 0x21 || c == '"' || c == 0x7f {
			return false
		}
	}
	return true
}

// checkRevision refuses a write whose If-Match does not name the current
// revision; current is 0 when the object does not exist.
func checkRevision(want precondition, current int64, what string) error {
	switch {
	case want.header == "" || want.any && current > 0 || slices.Contains(want.revs, current) && current > 0:
		return nil
	case current == 0:
		return newError(http.StatusPreconditionFailed, api.CodePreconditionFailed, "",
			"%s does not exist, and If-Match %s asks for a revision of it; read it again and retry", what, shortQuote(want.header))
	}
	named := "the If-Match " + shortQuote(want.header)
	if len(want.revs) == 1 {
		named = strconv.FormatInt(want.revs[0], 10)
	}
	return newError(http.StatusPreconditionFailed, api.CodePreconditionFailed, "",
		"%s is at revision %d, not %s: it changed since you read it; read it again and retry", what, current, named)
}
