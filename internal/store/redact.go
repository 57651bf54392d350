package store

import (
	"net/url"
	"strings"
)

// redact hides the password of a database URL, in its user info or in a
// password query parameter, so that the URL can go into an error message.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		// Unparseable: hide all of the user info, if there is any.
		scheme, rest, ok := strings.Cut(s, "://")
		authority, _, _ := strings.Cut(rest, "/")
		if i := strings.LastIndex(authority, "@"); ok && i >= 0 {
			return scheme + "://xxxxx" + rest[i:]
		}
		return s
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
