package server

import (
	"net/http"
	"slices"
	"testing"
)

func TestParseIfMatch(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		header string
		bad    bool
		any    bool
		revs   []int64
	}{
		{header: ""},
		{header: "*", any: true},
		{header: `"3"`, revs: []int64{3}},
		{header: ` "3" `, revs: []int64{3}},
		{header: `"3", "7"`, revs: []int64{3, 7}},
		{header: `"3",, "7",`, revs: []int64{3, 7}},
		{header: `W/"3"`},                  // Weak tags never match under If-Match.
		{header: `"0"`},                    // Valid, and no revision is 0.
		{header: `"-3"`},                   // Valid, and names no revision.
		{header: `"99999999999999999999"`}, // Valid, beyond any revision.
		{header: `"abc"`},
		{header: `""`},
		{header: "3", bad: true},
		{header: "garbage", bad: true},
		{header: `"open`, bad: true},
		{header: `"a"b"`, bad: true},
		{header: `"a b"`, bad: true},
		{header: "\"a\x00\"", bad: true},
		{header: `W/3`, bad: true},
		{header: `"1", *`, bad: true},
	} {
		r, _ := http.NewRequest(http.MethodPatch, "/", nil)
		if c.header != "" {
			r.Header.Set("If-Match", c.header)
		}
		pc, err := parseIfMatch(r)
		if c.bad {
			if ae := toAPIError(err); ae == nil || ae.status != http.StatusBadRequest || ae.field != "If-Match" {
				t.Errorf("If-Match %q: %v, want a 400 naming If-Match", c.header, err)
			}
			continue
		}
		if err != nil || pc.any != c.any || !slices.Equal(pc.revs, c.revs) {
			t.Errorf("If-Match %q = %+v, %v; want any %v, revisions %v", c.header, pc, err, c.any, c.revs)
		}
	}
}

// TestIfMatchUnmatchedTagIs412 checks RFC 9110's rule on the wire: a valid
// entity tag that does not match the current revision is 412, whatever it
// holds ("0", a weak tag, a tag that is no number); only a malformed header
// is 400; a list matches when one of its tags does.
func TestIfMatchUnmatchedTagIs412(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	const path = "/v1/tenants/acme"
	for _, v := range []string{`"0"`, `W/"1"`, `"abc"`, `"-1"`, `"2", "3"`} {
		expectError(t, ts.call(t, ts.admin, "PATCH", path, map[string]any{"display_name": "X"}, "If-Match", v),
			http.StatusPreconditionFailed, "", "revision 1")
		expectError(t, ts.call(t, ts.admin, "DELETE", path, nil, "If-Match", v), http.StatusPreconditionFailed, "", "revision 1")
	}
	expectError(t, ts.call(t, ts.admin, "PATCH", path, map[string]any{"display_name": "X"}, "If-Match", "1"),
		http.StatusBadRequest, "If-Match", "entity tags")
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", path, map[string]any{"display_name": "X"}, "If-Match", `"7", "1"`)
	// "*" matches an object that exists, and no object that does not.
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", path, map[string]any{"display_name": "Y"}, "If-Match", "*")
	expectError(t, ts.call(t, ts.admin, "PUT", path+"/quota", map[string]any{"max_users": 5}, "If-Match", "*"),
		http.StatusPreconditionFailed, "", "does not exist")
}
