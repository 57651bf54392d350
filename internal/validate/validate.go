// Package validate holds the value checks that tenancyd and the provider share,
// so that a value the provider accepts at plan time is one the server accepts
// at apply time. It is plain Go: no framework, no HTTP.
//
// Every function returns nil or an error saying what the value is and what is
// allowed; the caller prefixes the field or attribute name. Long values are
// shortened in messages and control characters are escaped, so hostile input
// cannot flood or forge a log line.
package validate

import (
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Embeds the tz database so Timezone works on hosts without one.
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
)

// Patterns of the identifiers, exported so the provider's
// stringvalidator.RegexMatches and the server check the very same rule.
const (
	// SlugPattern matches a tenant slug: 3 to 63 characters of a-z, 0-9 and
	// "-", starting with a letter and ending with a letter or digit.
	SlugPattern = `^[a-z][a-z0-9-]{1,61}[a-z0-9]$`
	// NamePattern matches an environment name, an integration name or a
	// feature-flag key: 1 to 63 characters of a-z, 0-9, "_" and "-", starting
	// with a letter.
	NamePattern = `^[a-z][a-z0-9_-]{0,62}$`
	// LabelKeyPattern matches a label key: 1 to 63 characters of a-z, 0-9,
	// ".", "_" and "-", starting and ending with a letter or digit.
	LabelKeyPattern = `^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`
	// MigrationVersionPattern matches a migration version: a positive whole
	// number without leading zeros, of at most 18 digits (it fits an int64).
	MigrationVersionPattern = `^[1-9][0-9]{0,17}$`
	// BackupIDPattern matches a backup's id, such as bkp_0123456789abcdef0123.
	BackupIDPattern = `^bkp_[0-9a-f]{1,64}$`
)

// Compiled forms of the patterns above.
var (
	SlugRegexp     = regexp.MustCompile(SlugPattern)
	NameRegexp     = regexp.MustCompile(NamePattern)
	LabelKeyRegexp = regexp.MustCompile(LabelKeyPattern)

	MigrationVersionRegexp = regexp.MustCompile(MigrationVersionPattern)
	BackupIDRegexp         = regexp.MustCompile(BackupIDPattern)
)

// Rules as users read them, used in error messages and in schema descriptions.
const (
	SlugRule             = `3 to 63 lower-case letters, digits and "-", starting with a letter and ending with a letter or digit`
	NameRule             = `1 to 63 characters of a-z, 0-9, "_" and "-", starting with a letter`
	LabelKeyRule         = `1 to 63 characters of a-z, 0-9, ".", "_" and "-", starting and ending with a letter or digit`
	MigrationVersionRule = `a positive whole number without leading zeros (such as 1, 2, 10), at most 18 digits`
	BackupIDRule         = `"bkp_" and up to 64 lower-case hexadecimal digits, such as bkp_0123456789abcdef0123`
)

// Limits of the free-form values.
const (
	MaxHostnameLength   = 253
	MaxURLLength        = 2048
	MaxEmailLength      = 254
	MaxLabelValueLength = 255
)

var (
	slug     = identRule{"a slug", SlugRule, SlugRegexp, 3, isLower, isSlugChar, isLowerOrDigit}
	name     = identRule{"a name", NameRule, NameRegexp, 1, isLower, isNameChar, isNameChar}
	labelKey = identRule{"a label key", LabelKeyRule, LabelKeyRegexp, 1, isLowerOrDigit, isLabelKeyChar, isLowerOrDigit}
)

// Slug checks a tenant slug against SlugPattern.
func Slug(s string) error { return slug.check(s) }

// Name checks an environment name, integration name or feature-flag key
// against NamePattern.
func Name(s string) error { return name.check(s) }

// LabelKey checks a label key against LabelKeyPattern.
func LabelKey(s string) error { return labelKey.check(s) }

// LabelValue checks a label value: at most 255 printable characters (letters,
// marks, numbers, punctuation, symbols and the ASCII space); empty is allowed.
func LabelValue(s string) error {
	const rule = "use at most 255 printable characters"
	if !utf8.ValidString(s) {
		return invalid(s, "a label value", "it is not valid UTF-8", rule)
	}
	if n := utf8.RuneCountInString(s); n > MaxLabelValueLength {
		return invalid(s, "a label value", fmt.Sprintf("it is %d characters long", n), rule)
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return invalid(s, "a label value", "it contains "+quoteRune(r), rule)
	}
	return nil
}

// Timezone checks an IANA time zone name such as "Europe/Paris" or "UTC". It
// refuses "" and "Local", which mean UTC and the machine's zone to
// time.LoadLocation, and it accepts only names made of components that start
// with an upper-case letter and hold letters, digits, "_", "+" and "-", so
// paths, the "posix/" and "right/" copies and the other files of an OS zoneinfo
// directory are refused wherever the check runs. The tz database is embedded,
// so the answer does not depend on the host's.
func Timezone(s string) error {
	const zoneRule = `for example "Europe/Paris" or "UTC"`
	if !isZoneName(s) {
		return invalid(s, "an IANA time zone name", "", zoneRule)
	}
	if _, err := time.LoadLocation(s); err != nil {
		return invalid(s, "an IANA time zone name", "", zoneRule)
	}
	return nil
}

func isZoneName(s string) bool {
	if len(s) > 64 || s == "Local" {
		return false
	}
	for c := range strings.SplitSeq(s, "/") {
		if c == "" || c[0] < 'A' || c[0] > 'Z' {
			return false
		}
		for _, r := range c {
			if !isASCIILetter(r) && !isDigit(r) && !strings.ContainsRune("_+-", r) {
				return false
			}
		}
	}
	return true
}

// Language checks a BCP 47 language tag in canonical form, such as "en",
// "en-GB", "pt-BR" or "zh-Hant-TW". Tags that are well formed but not in
// canonical form ("en-gb", "en_GB", "iw") are refused with the canonical form
// as advice, so that what is stored is what is configured.
func Language(s string) error {
	const rule = `for example "en", "en-GB" or "zh-Hant-TW"`
	if s == "" || len(s) > 64 {
		return invalid(s, "a BCP 47 language tag", "", rule)
	}
	t, err := language.Parse(s)
	if err != nil {
		return invalid(s, "a BCP 47 language tag", "", rule)
	}
	if base, _, _ := t.Raw(); base.String() == "und" {
		return invalid(s, "a BCP 47 language tag", "it names no language", rule)
	}
	if c := t.String(); c != s {
		return fmt.Errorf("%s is not a BCP 47 language tag in canonical form; use %q", quote(s), c)
	}
	return nil
}

// Hostname checks a DNS host name as RFC 1123 defines it, restricted to what
// a tenant's domain may be: lower case, at least two labels, each 1 to 63
// characters of a-z, 0-9 and "-" that neither starts nor ends with "-", at
// most 253 characters, no trailing dot, a last label that is not all digits
// (so no IPv4 address) and no scheme, port or path. Internationalised names
// are given in their ASCII ("xn--") form, which is what DNS and TLS certificates
// hold and which shows look-alike letters for what they are.
func Hostname(s string) error {
	const what = "a host name"
	const rule = `use a lower-case DNS name such as "app.example.com": at least two labels of a-z, 0-9 and "-", ` +
		`each 1 to 63 characters and neither starting nor ending with "-", at most 253 characters in all`
	if _, err := netip.ParseAddr(s); err == nil {
		return invalid(s, what, "it is an IP address", rule)
	}
	switch {
	case s == "":
		return invalid(s, what, "it is empty", rule)
	case len(s) > MaxHostnameLength:
		return invalid(s, what, fmt.Sprintf("it is %d characters long", len(s)), rule)
	case strings.ContainsAny(s, `/\:?#@`):
		return invalid(s, what, "give the host alone, without scheme, user, port or path", rule)
	case strings.HasSuffix(s, "."):
		return invalid(s, what, "it ends with a dot, try "+strconv.Quote(strings.TrimSuffix(s, ".")), rule)
	}
	for _, r := range s {
		switch {
		case r >= utf8.RuneSelf:
			return invalid(s, what, "it contains "+quoteRune(r)+`, give internationalised names in their "xn--" form`, rule)
		case r >= 'A' && r <= 'Z':
			return invalid(s, what, "it is not lower case, try "+strconv.Quote(strings.ToLower(s)), rule)
		case !isLowerOrDigit(r) && r != '-' && r != '.':
			return invalid(s, what, "it contains "+quoteRune(r), rule)
		}
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return invalid(s, what, "it has a single label", rule)
	}
	for _, l := range labels {
		switch {
		case l == "":
			return invalid(s, what, "it has an empty label", rule)
		case len(l) > 63:
			return invalid(s, what, fmt.Sprintf("it has a label of %d characters", len(l)), rule)
		case l[0] == '-' || l[len(l)-1] == '-':
			return invalid(s, what, fmt.Sprintf("its label %q starts or ends with \"-\"", l), rule)
		}
	}
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return invalid(s, what, "its last label is all digits", rule)
	}
	return nil
}

// CIDR checks an IPv4 or IPv6 prefix in canonical form: the address has no
// bits set beyond the prefix length and is written as net/netip writes it
// (IPv6 in lower case, zeros compressed), so "10.0.0.1/8" is refused with the
// advice "10.0.0.0/8".
func CIDR(s string) error {
	const rule = `for example "10.0.0.0/8" or "2001:db8::/32"`
	if len(s) > 64 {
		return invalid(s, "a CIDR prefix", "it is too long", rule)
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		if a, aerr := netip.ParseAddr(s); aerr == nil && a.Zone() == "" {
			return fmt.Errorf("%s is not a CIDR prefix; for this single address use %q", quote(s), netip.PrefixFrom(a, a.BitLen()))
		}
		return invalid(s, "a CIDR prefix", "", rule)
	}
	if c := p.Masked().String(); c != s {
		return fmt.Errorf("%s is not a CIDR prefix in canonical form; use %q", quote(s), c)
	}
	return nil
}

// HTTPSURL checks an absolute https:// URL with a host, without user
// information, of at most 2048 printable ASCII characters (anything else must
// be percent-encoded, which also keeps look-alike host names out).
func HTTPSURL(s string) error {
	const what = "an HTTPS URL"
	const rule = `use an absolute URL such as "https://example.com/logo.png"`
	switch {
	case len(s) > MaxURLLength:
		return invalid(s, what, fmt.Sprintf("it is %d characters long, more than %d", len(s), MaxURLLength), rule)
	case strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0:
		return invalid(s, what, "it contains spaces, control or non-ASCII characters, percent-encode them", rule)
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return invalid(s, what, "", rule)
	case u.Scheme != "https" || !strings.HasPrefix(s, "https://"):
		return invalid(s, what, `it does not start with "https://"`, rule)
	case u.User != nil:
		return invalid(s, what, "it contains user information", rule)
	case u.Hostname() == "":
		return invalid(s, what, "it has no host", rule)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return invalid(s, what, fmt.Sprintf("its port %s is not between 1 and 65535", p), rule)
		}
	}
	return nil
}

// HexColor checks a colour written "#RRGGBB"; the hexadecimal digits may be
// upper or lower case ("#1a2b3c" and "#1A2B3C" are both accepted).
func HexColor(s string) error {
	if len(s) != 7 || s[0] != '#' || strings.IndexFunc(s[1:], func(r rune) bool { return !isHexDigit(r) }) >= 0 {
		return invalid(s, "a colour", "", `use "#RRGGBB" in hexadecimal, for example "#1a73e8"`)
	}
	return nil
}

// Email checks a plain e-mail address such as "alice@example.com", of at most
// 254 characters, as net/mail parses it (RFC 5322, with RFC 6532's UTF-8),
// without display name, angle brackets, quotes or comments, so that the
// stored address is the configured one.
func Email(s string) error {
	const rule = `use a plain address such as "alice@example.com"`
	if len(s) > MaxEmailLength {
		return invalid(s, "an e-mail address", fmt.Sprintf("it is %d characters long, more than %d", len(s), MaxEmailLength), rule)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return invalid(s, "an e-mail address", "", rule)
	}
	if a.Address != s {
		if a.Name != "" || strings.HasPrefix(s, "<") {
			return invalid(s, "a plain e-mail address", fmt.Sprintf("it has a display name or brackets, try %q", a.Address), rule)
		}
		return invalid(s, "a plain e-mail address", "", rule)
	}
	return nil
}

// OneOf checks that s is one of allowed.
func OneOf(s string, allowed []string) error {
	for _, a := range allowed {
		if s == a {
			return nil
		}
	}
	q := make([]string, len(allowed))
	for i, a := range allowed {
		q[i] = strconv.Quote(a)
	}
	return fmt.Errorf("%s is not allowed; use one of %s", quote(s), strings.Join(q, ", "))
}

// IntRange checks that min <= v <= max.
func IntRange(v, min, max int64) error {
	if v < min || v > max {
		return fmt.Errorf("%d is out of range; use a value from %d to %d", v, min, max)
	}
	return nil
}

// identRule is an identifier syntax of at most 63 characters: a regexp that
// decides, and enough of its parts to explain a refusal.
type identRule struct {
	what, rule        string
	re                *regexp.Regexp
	min               int
	first, body, last func(rune) bool
}

func (r identRule) check(s string) error {
	if r.re.MatchString(s) {
		return nil
	}
	var problem string
	if i := strings.IndexFunc(s, func(c rune) bool { return !r.body(c) }); i >= 0 {
		c, _ := utf8.DecodeRuneInString(s[i:])
		problem = "it contains " + quoteRune(c)
	} else if s == "" {
		problem = "it is empty"
	} else if len(s) < r.min || len(s) > 63 {
		problem = fmt.Sprintf("it is %d characters long", len(s))
	} else if !r.first(rune(s[0])) {
		problem = "it starts with " + quoteRune(rune(s[0]))
	} else if !r.last(rune(s[len(s)-1])) {
		problem = "it ends with " + quoteRune(rune(s[len(s)-1]))
	}
	return invalid(s, r.what, problem, "use "+r.rule)
}

// invalid formats `"value" is not what: problem (rule)`, leaving out an empty
// problem.
func invalid(s, what, problem, rule string) error {
	if problem != "" {
		return fmt.Errorf("%s is not %s: %s (%s)", quote(s), what, problem, rule)
	}
	return fmt.Errorf("%s is not %s (%s)", quote(s), what, rule)
}

// quote quotes s for a message, shortened to its first 64 bytes when longer.
func quote(s string) string {
	const max = 64
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

// quoteRune quotes r in ASCII, so that a look-alike such as the Cyrillic "а"
// shows as "\u0430" rather than as the letter it imitates.
func quoteRune(r rune) string { return strconv.QuoteToASCII(string(r)) }

func isASCIILetter(r rune) bool  { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }
func isDigit(r rune) bool        { return r >= '0' && r <= '9' }
func isHexDigit(r rune) bool     { return isDigit(r) || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F' }
func isLower(r rune) bool        { return r >= 'a' && r <= 'z' }
func isLowerOrDigit(r rune) bool { return isLower(r) || isDigit(r) }
func isSlugChar(r rune) bool     { return isLowerOrDigit(r) || r == '-' }
func isNameChar(r rune) bool     { return isSlugChar(r) || r == '_' }
func isLabelKeyChar(r rune) bool { return isNameChar(r) || r == '.' }
