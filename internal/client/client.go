// Package client is the Go client of tenancyd's HTTP API that the Terraform
// provider uses. Retries, backoff, rate-limit waits and idempotency keys
// live here, so that resource code never deals with them; so does If-Match,
// which a caller asks for by passing the revision it recorded (ifMatch),
// never as a header.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/uuid"
	cleanhttp "github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// Defaults for the Config fields left at zero.
const (
	DefaultRequestTimeout = 30 * time.Second
	DefaultRetryWaitMin   = 250 * time.Millisecond
	DefaultRetryWaitMax   = 10 * time.Second
	DefaultMaxRetryAfter  = 60 * time.Second
	DefaultUserAgent      = "terraform-provider-tenancy"
)

// Config says where tenancyd listens and how to talk to it.
type Config struct {
	// Endpoint is the API's base URL, such as https://tenancy.example.com.
	Endpoint string
	// Token is the bearer token every request carries.
	Token string
	// MaxRetries is how many times a failed attempt is retried; 0 disables
	// retries.
	MaxRetries int
	// RequestTimeout bounds each attempt, not the whole call: the caller's
	// context bounds that.
	RequestTimeout time.Duration
	// CACertFile is a PEM file of CA certificates trusted in addition to the
	// system's, for endpoints with a private CA.
	CACertFile string
	// UserAgent is sent as the User-Agent header.
	UserAgent string
	// RetryWaitMin and RetryWaitMax bound the exponential backoff.
	RetryWaitMin, RetryWaitMax time.Duration
	// MaxRetryAfter caps how long a server's Retry-After makes the client wait.
	MaxRetryAfter time.Duration
}

// Client calls tenancyd's API. It is safe for concurrent use.
type Client struct {
	base      string
	token     string
	userAgent string
	http      *retryablehttp.Client
	// self is what Identify learned about the token, nil before.
	self atomic.Pointer[api.TokenInfo]
	// refresh batches the reads of Refresh* calls; see refreshCache.
	refresh *refreshCache
}

// New checks cfg and returns a client for it. Its errors never contain the
// token, even one pasted into another setting by mistake.
func New(cfg Config) (*Client, error) {
	c, err := newClient(cfg)
	if err != nil {
		if msg := redact(err.Error(), cfg.Token); msg != err.Error() {
			return nil, errors.New(msg)
		}
	}
	return c, err
}

// redact cuts token out of s. A token too short to be real is left alone:
// cutting it would mangle the message and protect nothing.
func redact(s, token string) string {
	if len(token) < 8 {
		return s
	}
	return strings.ReplaceAll(s, token, "[redacted]")
}

func newClient(cfg Config) (*Client, error) {
	base, err := parseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(cfg.Token) == "" {
		return nil, errors.New("token is empty; set the API token tenancyd issued")
	}
	if cfg.MaxRetries < 0 {
		return nil, fmt.Errorf("max retries is %d; use 0 or more", cfg.MaxRetries)
	}
	if cfg.RetryWaitMin == 0 && cfg.RetryWaitMax > 0 {
		// A short maximum set alone must not clash with the default minimum.
		cfg.RetryWaitMin = min(DefaultRetryWaitMin, cfg.RetryWaitMax)
	}
	durations := []struct {
		name  string
		value *time.Duration
		def   time.Duration
	}{
		{"request timeout", &cfg.RequestTimeout, DefaultRequestTimeout},
		{"retry wait min", &cfg.RetryWaitMin, DefaultRetryWaitMin},
		{"retry wait max", &cfg.RetryWaitMax, DefaultRetryWaitMax},
		{"max Retry-After", &cfg.MaxRetryAfter, DefaultMaxRetryAfter},
	}
	for _, d := range durations {
		if *d.value < 0 {
			return nil, fmt.Errorf("%s is %s; use a positive duration, or 0 for the default %s", d.name, *d.value, d.def)
		}
		if *d.value == 0 {
			*d.value = d.def
		}
	}
	if cfg.RetryWaitMin > cfg.RetryWaitMax {
		return nil, fmt.Errorf("retry wait min %s is longer than retry wait max %s", cfg.RetryWaitMin, cfg.RetryWaitMax)
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CACertFile != "" {
		if tlsConfig.RootCAs, err = loadCAFile(cfg.CACertFile); err != nil {
			return nil, err
		}
	}
	transport := cleanhttp.DefaultPooledTransport()
	transport.TLSClientConfig = tlsConfig
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	return &Client{
		base:      base,
		token:     cfg.Token,
		userAgent: cfg.UserAgent,
		refresh:   newRefreshCache(),
		http: &retryablehttp.Client{
			HTTPClient: &http.Client{
				Transport: transport, Timeout: cfg.RequestTimeout,
				// tenancyd never redirects. Following one would send the
				// token to wherever a proxy or an attacker points, over
				// plain HTTP included: the 3xx is reported instead.
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			},
			Logger:          nil, // Attempts are logged with tflog by the hooks.
			RetryWaitMin:    cfg.RetryWaitMin,
			RetryWaitMax:    cfg.RetryWaitMax,
			RetryMax:        cfg.MaxRetries,
			RequestLogHook:  beforeAttempt,
			ResponseLogHook: afterAttempt,
			CheckRetry:      checkRetry,
			Backoff:         Backoff(cfg.MaxRetryAfter),
			// The last response reaches do, which turns it into an APIError
			// carrying the server's message.
			ErrorHandler: retryablehttp.PassthroughErrorHandler,
		},
	}, nil
}

func parseEndpoint(endpoint string) (string, error) {
	const want = "use an absolute http(s) URL such as https://tenancy.example.com"
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("endpoint %q is not a URL (%w); %s", endpoint, err, want)
	}
	switch {
	case u.User != nil:
		return "", fmt.Errorf("endpoint %q holds credentials; remove them and pass the token instead", u.Redacted())
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return "", fmt.Errorf("endpoint %q is not an absolute http(s) URL; %s", endpoint, want)
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("endpoint %q has a query or fragment; %s", endpoint, want)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// loadCAFile returns the system roots plus the certificates in file.
func loadCAFile(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file) //nolint:gosec // Reading the file the user configured is the point.
	if err != nil {
		return nil, fmt.Errorf("CA certificate file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA certificate file %q holds no PEM certificate", file)
	}
	return pool, nil
}

// Backoff returns the wait before retry number attempt (0 for the first
// retry): for a 429 or 503 with a Retry-After header (delta-seconds or
// HTTP-date) the server's wait, capped at maxRetryAfter; otherwise an
// exponential backoff with full jitter, drawn from [waitMin, ceiling] where
// the ceiling doubles each attempt from 2*waitMin up to waitMax.
func Backoff(maxRetryAfter time.Duration) retryablehttp.Backoff {
	return func(waitMin, waitMax time.Duration, attempt int, resp *http.Response) time.Duration {
		if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
			if wait, ok := retryAfter(resp.Header.Get("Retry-After"), maxRetryAfter); ok {
				return min(max(wait, waitMin), maxRetryAfter)
			}
		}
		ceiling := waitMax
		if shift := attempt + 1; shift < 62 && waitMin <= waitMax>>shift {
			ceiling = waitMin << shift
		}
		if ceiling <= waitMin {
			return waitMin
		}
		return waitMin + rand.N(ceiling-waitMin+1) //nolint:gosec // Jitter needs no cryptographic randomness.
	}
}

// retryAfter parses a Retry-After value; anything above limit is limit.
func retryAfter(v string, limit time.Duration) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(limit/time.Second) {
			return limit, true
		}
		return time.Duration(secs) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(time.Until(at), 0), true
}

// checkRetry retries transport errors that another attempt may cure (not
// a cancelled context, a bad certificate or an invalid URL) and the statuses
// that say "try again later".
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if err != nil || ctx.Err() != nil {
		retry, err2 := retryablehttp.DefaultRetryPolicy(ctx, resp, err)
		if err != nil {
			tflog.Debug(ctx, "tenancy API attempt failed", map[string]any{"error": err.Error(), "retryable": retry})
		}
		return retry, err2
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true, nil
	}
	return false, nil
}

// attemptsKey keys the counter of one call's attempts in its request's
// context; the hooks see only the request.
type attemptsKey struct{}

func attempts(ctx context.Context) int64 {
	if n, ok := ctx.Value(attemptsKey{}).(*atomic.Int64); ok {
		return n.Load()
	}
	return 0
}

// beforeAttempt counts and logs an attempt. Headers are never logged: they
// carry the token.
func beforeAttempt(_ retryablehttp.Logger, req *http.Request, retry int) {
	ctx := req.Context()
	if n, ok := ctx.Value(attemptsKey{}).(*atomic.Int64); ok {
		n.Store(int64(retry) + 1)
	}
	tflog.Debug(ctx, "tenancy API request", map[string]any{
		"method": req.Method, "path": req.URL.EscapedPath(), "attempt": retry + 1,
	})
}

// afterAttempt logs an attempt's response, never its body.
func afterAttempt(_ retryablehttp.Logger, resp *http.Response) {
	if resp.Request == nil {
		return
	}
	ctx := resp.Request.Context()
	tflog.Debug(ctx, "tenancy API response", map[string]any{
		"method": resp.Request.Method, "path": resp.Request.URL.EscapedPath(), "attempt": attempts(ctx),
		"status": resp.StatusCode, "request_id": resp.Header.Get(api.HeaderRequestID),
	})
}

// PathEscape joins segments into an absolute API path, escaping each, so that
// a user's value cannot reach another path: PathEscape("v1", "tenants", slug).
func PathEscape(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		switch s {
		case ".", "..":
			b.WriteString(strings.Repeat("%2E", len(s)))
		default:
			b.WriteString(url.PathEscape(s))
		}
	}
	return b.String()
}

// MergePatch returns the RFC 7396 merge patch that turns original into
// desired, both encoded as JSON first: removed keys and fields become null.
func MergePatch(original, desired any) (json.RawMessage, error) {
	from, err := json.Marshal(original)
	if err != nil {
		return nil, fmt.Errorf("merge patch: encoding the original: %w", err)
	}
	to, err := json.Marshal(desired)
	if err != nil {
		return nil, fmt.Errorf("merge patch: encoding the desired object: %w", err)
	}
	patch, err := jsonpatch.CreateMergePatch(from, to)
	if err != nil {
		return nil, fmt.Errorf("merge patch: %w", err)
	}
	return patch, nil
}

// Content types of request bodies.
const (
	contentJSON       = "application/json"
	contentMergePatch = "application/merge-patch+json"
)

// request is one logical call; its retries share all of it, the idempotency
// key included.
type request struct {
	method, path string
	query        url.Values
	body         []byte
	contentType  string
	ifMatch      int64
	// emptyOK admits a 2xx answer without a body (a DELETE's 204, an
	// action's); any other call expects the object it asked for.
	emptyOK bool
	// expect is the identity the answer must have; expectItems, the one
	// every item of a list answer must have.
	expect, expectItems identity
	// readOnly marks a POST that changes nothing, such as a preview.
	readOnly bool
}

// identity names the object a request is about by JSON fields of the
// answer and the values they must hold; "" is a field that must be absent
// or null. An answer with another identity comes from a proxy or server
// that returned another object, and is refused with a *WrongObjectError.
type identity map[string]string

// Get reads the object at path.
func Get[T any](ctx context.Context, c *Client, path string) (*T, error) {
	return get[T](ctx, c, path, nil)
}

func get[T any](ctx context.Context, c *Client, path string, id identity) (*T, error) {
	return send[T](ctx, c, request{method: http.MethodGet, path: path, expect: id})
}

// Create POSTs body to the collection at path and returns the created object.
func Create[T any](ctx context.Context, c *Client, path string, body any) (*T, error) {
	return create[T](ctx, c, path, body, nil)
}

func create[T any](ctx context.Context, c *Client, path string, body any, id identity) (*T, error) {
	r, err := jsonRequest(http.MethodPost, path, body, 0)
	if err != nil {
		return nil, err
	}
	r.expect = id
	return send[T](ctx, c, r)
}

// Put replaces the object at path with body; ifMatch, unless 0, is the
// revision the write requires.
func Put[T any](ctx context.Context, c *Client, path string, body any, ifMatch int64) (*T, error) {
	return put[T](ctx, c, path, body, ifMatch, nil)
}

func put[T any](ctx context.Context, c *Client, path string, body any, ifMatch int64, id identity) (*T, error) {
	r, err := jsonRequest(http.MethodPut, path, body, ifMatch)
	if err != nil {
		return nil, err
	}
	r.expect = id
	return send[T](ctx, c, r)
}

// Patch applies a JSON merge patch (see MergePatch) to the object at path;
// ifMatch, unless 0, is the revision the write requires.
func Patch[T any](ctx context.Context, c *Client, path string, patch json.RawMessage, ifMatch int64) (*T, error) {
	return patchAs[T](ctx, c, path, patch, ifMatch, nil)
}

func patchAs[T any](ctx context.Context, c *Client, path string, patch json.RawMessage, ifMatch int64, id identity) (*T, error) {
	return send[T](ctx, c, request{
		method: http.MethodPatch, path: path, body: patch, contentType: contentMergePatch, ifMatch: ifMatch, expect: id,
	})
}

// Delete deletes the object at path; ifMatch, unless 0, is the revision the
// delete requires. A 204 answer gives a nil *T.
func Delete[T any](ctx context.Context, c *Client, path string, ifMatch int64) (*T, error) {
	return deleteAs[T](ctx, c, path, ifMatch, nil)
}

func deleteAs[T any](ctx context.Context, c *Client, path string, ifMatch int64, id identity) (*T, error) {
	return send[T](ctx, c, request{method: http.MethodDelete, path: path, ifMatch: ifMatch, emptyOK: true, expect: id})
}

// ListAll reads every page of the list at path, following next_page_token,
// in pages of the largest size the API allows unless query says otherwise.
func ListAll[T any](ctx context.Context, c *Client, path string, query url.Values) ([]T, error) {
	return listAll[T](ctx, c, path, query, nil)
}

// listAll is ListAll where every item must have the identity each.
func listAll[T any](ctx context.Context, c *Client, path string, query url.Values, each identity) ([]T, error) {
	query = maps.Clone(query)
	if query == nil {
		query = url.Values{}
	}
	if !query.Has("page_size") {
		query.Set("page_size", strconv.Itoa(api.MaxPageSize))
	}
	all := []T{}
	seen := map[string]bool{}
	for {
		page, err := send[api.List[T]](ctx, c, request{method: http.MethodGet, path: path, query: query, expectItems: each})
		if err != nil {
			return all, err
		}
		all = append(all, page.Items...)
		next := page.NextPageToken
		if next == "" {
			return all, nil
		}
		if seen[next] {
			return nil, fmt.Errorf("GET %s: the server returned page token %q twice; stopped instead of looping", path, next)
		}
		seen[next] = true
		query.Set("page_token", next)
	}
}

// jsonRequest is a request with body (none if nil) encoded as JSON.
func jsonRequest(method, path string, body any, ifMatch int64) (request, error) {
	r := request{method: method, path: path, ifMatch: ifMatch}
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return r, fmt.Errorf("%s %s: encoding the request body: %w", method, path, err)
		}
		r.body, r.contentType = data, contentJSON
	}
	return r, nil
}

func send[T any](ctx context.Context, c *Client, r request) (*T, error) {
	out := new(T)
	found, err := c.do(ctx, r, out)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, nil // An empty answer, such as a 204, is not an error.
	}
	return out, nil
}

// do runs one logical call with its retries and decodes a successful answer
// into out, reporting whether there was one to decode.
func (c *Client) do(ctx context.Context, r request, out any) (bool, error) {
	target := c.base + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	ctx = context.WithValue(ctx, attemptsKey{}, new(atomic.Int64))
	var body any // A typed nil would send an empty body.
	if r.body != nil {
		body = r.body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return false, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", contentJSON)
	req.Header.Set("User-Agent", c.userAgent)
	if r.body != nil {
		req.Header.Set("Content-Type", r.contentType)
	}
	if r.method != http.MethodGet && r.method != http.MethodHead {
		req.Header.Set(api.HeaderIdempotencyKey, uuid.NewString())
	}
	if r.ifMatch != 0 {
		req.Header.Set("If-Match", strconv.Quote(strconv.FormatInt(r.ifMatch, 10)))
	}

	// A write drops what the refresh cache holds of its tenant, before (so no
	// list starts from the old state) and after (in case one did meanwhile).
	c.refresh.forgetFor(r)
	defer c.refresh.forgetFor(r)
	// A 2xx answer whose body is cut short or is not JSON (a proxy in the
	// way, a dropped connection) is retried like a 5xx: a retried write
	// carries the same Idempotency-Key, so the server answers it from its
	// record rather than writing twice.
	for bodyRetries := 0; ; bodyRetries++ {
		found, retry, err := c.attempt(ctx, req, r, out)
		if !retry || bodyRetries >= c.http.RetryMax {
			return found, err
		}
		tflog.Debug(ctx, "tenancy API answer unreadable, retrying", map[string]any{"error": err.Error()})
		wait := c.http.Backoff(c.http.RetryWaitMin, c.http.RetryWaitMax, bodyRetries, nil)
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("%s %s: %w (after %w)", r.method, r.path, ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}

// attempt sends req (with its own retries) and decodes a successful answer
// into out. It reports whether there was an answer to decode, and whether
// the call may be retried because the body of a 2xx answer was unreadable.
func (c *Client) attempt(ctx context.Context, req *retryablehttp.Request, r request, out any) (found, retry bool, err error) {
	resp, err := c.http.Do(req)
	n := int(attempts(ctx))
	if err != nil {
		if resp != nil {
			_ = resp.Body.Close()
		}
		return false, false, fmt.Errorf("%s %s: %w%s", r.method, r.path, err, afterAttempts(n))
	}
	defer resp.Body.Close()

	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		return false, false, c.redirectError(r, resp, n)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return false, false, c.outOfReach(r, c.apiError(r, resp, n))
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, true, fmt.Errorf("%s %s: reading the %d answer: %w", r.method, r.path, resp.StatusCode, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if r.emptyOK {
			return false, false, nil
		}
		return false, false, fmt.Errorf("%s %s: the server answered %d with no body where the object was expected: %w; "+
			"check that endpoint points at tenancyd and not at a proxy that drops bodies", r.method, r.path, resp.StatusCode, ErrEmptyAnswer)
	}
	// A retry decodes afresh, not on top of what a bad answer left.
	reflect.ValueOf(out).Elem().SetZero()
	if err := json.Unmarshal(data, out); err != nil {
		return false, true, fmt.Errorf("%s %s: the %d answer is not the JSON expected: %w", r.method, r.path, resp.StatusCode, err)
	}
	if err := r.checkIdentity(data); err != nil {
		return false, false, err
	}
	return true, false, nil
}

// checkIdentity refuses an answer that is about another object than the
// request, or a list holding an item of another owner.
func (r request) checkIdentity(data []byte) error {
	if len(r.expect) > 0 {
		if err := r.expect.check(r, data); err != nil {
			return err
		}
	}
	if len(r.expectItems) == 0 {
		return nil
	}
	var page struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(data, &page); err != nil {
		return fmt.Errorf("%s %s: the answer is not a list: %w", r.method, r.path, err)
	}
	for _, item := range page.Items {
		if err := r.expectItems.check(r, item); err != nil {
			return err
		}
	}
	return nil
}

// check compares the fields of one JSON object with the identity.
func (id identity) check(r request, data []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return fmt.Errorf("%s %s: the answer is not a JSON object: %w", r.method, r.path, err)
	}
	for _, name := range slices.Sorted(maps.Keys(id)) {
		want, got := id[name], ""
		if raw, ok := fields[name]; ok && string(raw) != "null" {
			if json.Unmarshal(raw, &got) != nil {
				got = string(raw)
			}
		}
		if got != want {
			return &WrongObjectError{Method: r.method, Path: r.path, Field: name, Want: want, Got: got}
		}
	}
	return nil
}

func afterAttempts(n int) string {
	if n > 1 {
		return fmt.Sprintf(" (after %d attempts)", n)
	}
	return ""
}
