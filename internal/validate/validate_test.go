package validate

import (
	"strings"
	"testing"
)

// hostile holds inputs that no identifier, name, address or URL may be.
var hostile = map[string]string{
	"10 KB":            strings.Repeat("a", 10<<10),
	"10 KB multibyte":  strings.Repeat("é", 5<<10),
	"cyrillic a":       "\u0430cme",
	"zero-width space": "acme\u200b",
	"path traversal":   "../etc/passwd",
	"encoded slash":    "..%2F..%2Fetc",
	"NUL byte":         "acme\x00",
	"newline":          "acme\nlevel=error msg=forged",
	"SQL":              "'; DROP TABLE tenants;--",
	"invalid UTF-8":    "acme\xff",
}

func TestStringChecks(t *testing.T) {
	t.Parallel()
	type check = func(string) error
	long := func(n int) string { return strings.Repeat("a", n) }
	for _, tc := range []struct {
		name    string
		check   check
		valid   []string
		invalid map[string]string // input: a fragment of the error message
	}{
		{
			name:  "Slug",
			check: Slug,
			valid: []string{"acme", "a1b", "acme-prod-2", "a" + long(61) + "z"},
			invalid: map[string]string{
				"":               "it is empty",
				"ab":             "it is 2 characters long",
				long(64):         "it is 64 characters long",
				"Acme":           `it contains "A"`,
				"ac_me":          `it contains "_"`,
				"1acme":          `it starts with "1"`,
				"-acme":          `it starts with "-"`,
				"acme-":          `it ends with "-"`,
				"acme.example":   `it contains "."`,
				"\u0430cme":      `it contains "\u0430"`,
				"acme/../admin":  `it contains "/"`,
				"acme%2Fadmin":   `it contains "%"`,
				"acme\x00":       `it contains "\x00"`,
				"acme' OR '1'=1": `it contains "'"`,
			},
		},
		{
			name:  "Name",
			check: Name,
			valid: []string{"a", "staging", "new_billing", "eu-west-1", "a" + long(62)},
			invalid: map[string]string{
				"":             "it is empty",
				"a" + long(63): "it is 64 characters long",
				"Prod":         `it contains "P"`,
				"_x":           `it starts with "_"`,
				"1x":           `it starts with "1"`,
				"new.flag":     `it contains "."`,
				"a b":          `it contains " "`,
			},
		},
		{
			name:  "Timezone",
			check: Timezone,
			valid: []string{"UTC", "Europe/Paris", "America/New_York", "America/Argentina/Buenos_Aires", "America/Port-au-Prince", "Etc/GMT+5", "Etc/GMT-14", "Asia/Kolkata", "EST5EDT"},
			invalid: map[string]string{
				"":                   `"" is not an IANA time zone name (for example "Europe/Paris" or "UTC")`,
				"Europe/Pariss":      `"Europe/Pariss" is not an IANA time zone name (for example "Europe/Paris" or "UTC")`,
				"Local":              "not an IANA time zone name",
				"europe/paris":       "not an IANA time zone name",
				"utc":                "not an IANA time zone name",
				"/etc/localtime":     "not an IANA time zone name",
				"Europe/../UTC":      "not an IANA time zone name",
				"Europe//Paris":      "not an IANA time zone name",
				"Europe/Paris/":      "not an IANA time zone name",
				`Europe\Paris`:       "not an IANA time zone name",
				"posixrules":         "not an IANA time zone name",
				"right/Europe/Paris": "not an IANA time zone name",
				"posix/Europe/Paris": "not an IANA time zone name",
				"zone1970.tab":       "not an IANA time zone name",
				"Europe/Paris ":      "not an IANA time zone name",
				"+02:00":             "not an IANA time zone name",
			},
		},
		{
			name:  "Language",
			check: Language,
			valid: []string{"en", "de", "en-GB", "pt-BR", "zh-Hant-TW", "es-419", "sr-Latn", "fil", "de-CH-1996", "en-US-u-ca-buddhist"},
			invalid: map[string]string{
				"":           "not a BCP 47 language tag",
				"english":    `"english" is not a BCP 47 language tag (for example "en", "en-GB" or "zh-Hant-TW")`,
				"xx-":        "not a BCP 47 language tag",
				"xx":         "not a BCP 47 language tag",
				"en-":        "not a BCP 47 language tag",
				"en US":      "not a BCP 47 language tag",
				"en_US":      `not a BCP 47 language tag in canonical form; use "en-US"`,
				"en-gb":      `use "en-GB"`,
				"EN":         `use "en"`,
				"zh-hant-tw": `use "zh-Hant-TW"`,
				"iw":         `use "he"`,
				"und":        "it names no language",
				"x-klingon":  "it names no language",
			},
		},
		{
			name:  "Hostname",
			check: Hostname,
			valid: []string{"acme.example.com", "a.io", "xn--80ak6aa92e.com", "1password.com", "a-b.c-d.example", long(63) + ".com", strings.Repeat(long(49)+".", 5) + "com"},
			invalid: map[string]string{
				"":                                      "it is empty",
				"localhost":                             "it has a single label",
				"Acme.com":                              `it is not lower case, try "acme.com"`,
				"acme.com.":                             `it ends with a dot, try "acme.com"`,
				"https://acme.com":                      "without scheme, user, port or path",
				"acme.com:443":                          "without scheme, user, port or path",
				"acme.com/path":                         "without scheme, user, port or path",
				"user@acme.com":                         "without scheme, user, port or path",
				"10.0.0.1":                              "it is an IP address",
				"::1":                                   "it is an IP address",
				"[::1]":                                 "without scheme, user, port or path",
				"1.2.3.999":                             "its last label is all digits",
				"-acme.com":                             `its label "-acme" starts or ends with "-"`,
				"acme-.com":                             `its label "acme-" starts or ends with "-"`,
				"acme..com":                             "it has an empty label",
				".acme.com":                             "it has an empty label",
				long(64) + ".com":                       "it has a label of 64 characters",
				strings.Repeat(long(50)+".", 5) + "com": "it is 258 characters long",
				"acme_corp.com":                         `it contains "_"`,
				"\u0430cme.com":                         `it contains "\u0430", give internationalised names in their "xn--" form`,
				"acme.com\x00.evil.com":                 `it contains "\x00"`,
				"acme%2Fevil.com":                       `it contains "%"`,
				"acme.com;rm -rf":                       `it contains ";"`,
			},
		},
		{
			name:  "CIDR",
			check: CIDR,
			valid: []string{"10.0.0.0/8", "192.168.1.0/24", "203.0.113.7/32", "0.0.0.0/0", "2001:db8::/32", "::/0", "::1/128"},
			invalid: map[string]string{
				"":                "not a CIDR prefix",
				"10.0.0.1/8":      `not a CIDR prefix in canonical form; use "10.0.0.0/8"`,
				"2001:DB8::/32":   `use "2001:db8::/32"`,
				"2001:db8::1/32":  `use "2001:db8::/32"`,
				"10.0.0.1":        `for this single address use "10.0.0.1/32"`,
				"2001:db8::1":     `for this single address use "2001:db8::1/128"`,
				"10.0.0.0/33":     "not a CIDR prefix",
				"10.0.0/8":        "not a CIDR prefix",
				"010.0.0.0/8":     "not a CIDR prefix",
				"10.0.0.0/08":     "not a CIDR prefix",
				"10.0.0.0 /8":     "not a CIDR prefix",
				"fe80::1%eth0/64": "not a CIDR prefix",
				"10.0.0.0/8\x00":  "not a CIDR prefix",
				"acme.com/24":     "not a CIDR prefix",
			},
		},
		{
			name:  "HTTPSURL",
			check: HTTPSURL,
			valid: []string{"https://example.com", "https://example.com/logo.png", "https://cdn.example.com:8443/a/b.svg?v=2#top", "https://[2001:db8::1]/x", "https://10.0.0.1/logo", "https://example.com/a%20b.png", "https://example.com/" + long(2028)},
			invalid: map[string]string{
				"":                                  "it does not start with \"https://\"",
				"http://example.com":                `it does not start with "https://"`,
				"HTTPS://example.com":               `it does not start with "https://"`,
				"//example.com/logo.png":            `it does not start with "https://"`,
				"example.com/logo.png":              `it does not start with "https://"`,
				"javascript:alert(1)":               `it does not start with "https://"`,
				"https:example.com":                 `it does not start with "https://"`,
				"https://":                          "it has no host",
				"https:///logo.png":                 "it has no host",
				"https://user:pw@example.com/":      "it contains user information",
				"https://user@example.com/":         "it contains user information",
				"https://example.com:0/":            "its port 0 is not between 1 and 65535",
				"https://example.com:99999/":        "its port 99999 is not between 1 and 65535",
				"https://example.com/a b":           "percent-encode them",
				"https://ex\u0430mple.com/":         "percent-encode them",
				"https://example.com/\x00":          "percent-encode them",
				"https://example.com/\r\nX: y":      "percent-encode them",
				"https://exa mple.com":              "percent-encode them",
				"https://example.com/" + long(2029): "it is 2049 characters long, more than 2048",
				"https://example.com%2F@evil/":      "not an HTTPS URL",
			},
		},
		{
			name:  "HexColor",
			check: HexColor,
			valid: []string{"#1a73e8", "#1A73E8", "#000000", "#FFFFFF", "#aBcDeF"},
			invalid: map[string]string{
				"":          `"" is not a colour (use "#RRGGBB" in hexadecimal, for example "#1a73e8")`,
				"1a73e8":    "not a colour",
				"#fff":      "not a colour",
				"#1a73e8ff": "not a colour",
				"#1a73eg":   "not a colour",
				"#1a73e８":   "not a colour",
				" #1a73e8":  "not a colour",
				"red":       "not a colour",
			},
		},
		{
			name:  "Email",
			check: Email,
			valid: []string{"alice@example.com", "alice.smith+ops@mail.example.co.uk", "a@b.io", "o'brien@example.com"},
			invalid: map[string]string{
				"":                                       "not an e-mail address",
				"alice":                                  "not an e-mail address",
				"alice@":                                 "not an e-mail address",
				"@example.com":                           "not an e-mail address",
				"alice@@example.com":                     "not an e-mail address",
				"Alice <alice@example.com>":              `it has a display name or brackets, try "alice@example.com"`,
				"<alice@example.com>":                    `try "alice@example.com"`,
				`"alice smith"@example.com`:              "not a plain e-mail address",
				" alice@example.com":                     "not a plain e-mail address",
				"alice@example.com\r\nBcc: eve@evil.com": "not an e-mail address",
				"alice@example.com, eve@evil.com":        "not an e-mail address",
				long(245) + "@example.com":               "it is 257 characters long, more than 254",
			},
		},
		{
			name:  "LabelKey",
			check: LabelKey,
			valid: []string{"a", "1", "team", "cost-center", "app.kubernetes.io", "a_b", long(63)},
			invalid: map[string]string{
				"":           "it is empty",
				long(64):     "it is 64 characters long",
				"Team":       `it contains "T"`,
				"-team":      `it starts with "-"`,
				"team.":      `it ends with "."`,
				"team/owner": `it contains "/"`,
				"té":         `it contains "\u00e9"`,
			},
		},
		{
			name:  "LabelValue",
			check: LabelValue,
			valid: []string{"", "Platform Team", "Équipe plateforme", "チーム", "../etc/passwd", "%2F", "'; DROP TABLE tenants;--", "\u0430cme", strings.Repeat("é", 255)},
			invalid: map[string]string{
				strings.Repeat("é", 256): "it is 256 characters long",
				"a\x00b":                 `it contains "\x00"`,
				"a\tb":                   `it contains "\t"`,
				"line\nbreak":            `it contains "\n"`,
				"acme\u200b":             `it contains "\u200b"`,
				"\u202egnp.exe":          `it contains "\u202e"`,
				"acme\xff":               "it is not valid UTF-8",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, s := range tc.valid {
				if err := tc.check(s); err != nil {
					t.Errorf("%s(%q) = %v, want nil", tc.name, short(s), err)
				}
			}
			for s, want := range tc.invalid {
				checkInvalid(t, tc.name, tc.check, s, want)
			}
			if tc.name == "LabelValue" {
				return // Free text: only the hostile inputs it lists above are refused.
			}
			for what, s := range hostile {
				checkInvalid(t, tc.name+" "+what, tc.check, s, "")
			}
		})
	}
}

// checkInvalid requires check to refuse s with a message that quotes the
// value, contains want, and stays short and on one line whatever s holds.
func checkInvalid(t *testing.T, name string, check func(string) error, s, want string) {
	t.Helper()
	err := check(s)
	if err == nil {
		t.Errorf("%s(%q) = nil, want an error", name, short(s))
		return
	}
	msg := err.Error()
	if !strings.Contains(msg, want) {
		t.Errorf("%s(%q) = %q, want it to contain %q", name, short(s), msg, want)
	}
	if !strings.HasPrefix(msg, quote(s)) {
		t.Errorf("%s(%q) = %q, want it to start with the quoted value", name, short(s), msg)
	}
	if len(msg) > 500 || strings.ContainsAny(msg, "\x00\r\n") {
		t.Errorf("%s(%q) = %q: too long or not a single line", name, short(s), msg)
	}
}

func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func TestPatternsMatchChecks(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "a", "ab", "abc", "a-b", "a_b", "a.b", "a-", "-a", "1ab", "ab1", "Abc", strings.Repeat("a", 63), strings.Repeat("a", 64)} {
		for _, c := range []struct {
			name  string
			check func(string) error
			match bool
		}{
			{"Slug", Slug, SlugRegexp.MatchString(s)},
			{"Name", Name, NameRegexp.MatchString(s)},
			{"LabelKey", LabelKey, LabelKeyRegexp.MatchString(s)},
		} {
			if got := c.check(s) == nil; got != c.match {
				t.Errorf("%s(%q) accepts = %v, but its regexp matches = %v", c.name, s, got, c.match)
			}
		}
	}
	if SlugRegexp.String() != SlugPattern || NameRegexp.String() != NamePattern || LabelKeyRegexp.String() != LabelKeyPattern {
		t.Error("a compiled regexp differs from its exported pattern")
	}
}

func TestOneOf(t *testing.T) {
	t.Parallel()
	allowed := []string{"shared", "dedicated", "hybrid"}
	for _, s := range allowed {
		if err := OneOf(s, allowed); err != nil {
			t.Errorf("OneOf(%q) = %v, want nil", s, err)
		}
	}
	for s, want := range map[string]string{
		"gold":       `"gold" is not allowed; use one of "shared", "dedicated", "hybrid"`,
		"Shared":     `"Shared" is not allowed; use one of "shared", "dedicated", "hybrid"`,
		"":           `"" is not allowed; use one of "shared", "dedicated", "hybrid"`,
		"shared\x00": `"shared\x00" is not allowed; use one of "shared", "dedicated", "hybrid"`,
	} {
		if err := OneOf(s, allowed); err == nil || err.Error() != want {
			t.Errorf("OneOf(%q) = %v, want %s", s, err, want)
		}
	}
	if err := OneOf("x", nil); err == nil {
		t.Error(`OneOf("x", nil) = nil, want an error`)
	}
}

func TestIntRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v, min, max int64
		want        string
	}{
		{0, 0, 100, ""},
		{100, 0, 100, ""},
		{-5, -10, -1, ""},
		{101, 0, 100, "101 is out of range; use a value from 0 to 100"},
		{-1, 0, 100, "-1 is out of range; use a value from 0 to 100"},
		{-1 << 63, 1, 1 << 62, "-9223372036854775808 is out of range; use a value from 1 to 4611686018427387904"},
	} {
		err := IntRange(tc.v, tc.min, tc.max)
		if got := errString(err); got != tc.want {
			t.Errorf("IntRange(%d, %d, %d) = %q, want %q", tc.v, tc.min, tc.max, got, tc.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestQuoteShortensLongValues(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]string{
		"acme":                   `"acme"`,
		strings.Repeat("a", 100): `"` + strings.Repeat("a", 64) + `"... (100 bytes)`,
		strings.Repeat("é", 100): `"` + strings.Repeat("é", 32) + `"... (200 bytes)`,
		"a\x00\n":                `"a\x00\n"`,
	} {
		if got := quote(s); got != want {
			t.Errorf("quote(%q) = %s, want %s", short(s), got, want)
		}
	}
}
