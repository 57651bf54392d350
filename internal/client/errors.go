package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// Sentinel errors an *APIError matches with errors.Is, by HTTP status, so
// that callers need not know the statuses.
var (
	// ErrInvalid is a 400 or 422: the request or one of its fields is wrong.
	ErrInvalid = errors.New("invalid request")
	// ErrUnauthenticated is a 401: the token is missing, unknown or expired.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrPermissionDenied is a 403: the token's role does not allow the call.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrNotFound is a 404.
	ErrNotFound = errors.New("not found")
	// ErrConflict is a 409: the object exists or a unique value is taken.
	ErrConflict = errors.New("conflict")
	// ErrPreconditionFailed is a 412: the If-Match revision is stale.
	ErrPreconditionFailed = errors.New("precondition failed")
	// ErrRateLimited is a 429 that outlasted the retries.
	ErrRateLimited = errors.New("rate limited")
	// ErrEmptyAnswer is a 2xx answer without the body the call expects.
	ErrEmptyAnswer = errors.New("empty answer")
	// ErrWrongObject is an answer about another object than the one the
	// request named; see WrongObjectError.
	ErrWrongObject = errors.New("answer about another object")
	// ErrRedirect is a 3xx answer: the client never follows redirects.
	ErrRedirect = errors.New("redirect not followed")
)

// WrongObjectError is an answer about another object than the request
// named: another tenant's slug, another environment, key or id. tenancyd
// never answers so; a proxy, cache or impostor between the client and
// tenancyd returned another object, and nothing in it may be trusted, least
// of all written into Terraform state.
type WrongObjectError struct {
	Method, Path string
	// Field is the answer's JSON field that differs, such as "slug".
	Field string
	// Want is what the request named; Got, what the answer holds ("" for
	// a field that is absent or null).
	Want, Got string
}

func (e *WrongObjectError) Error() string {
	return fmt.Sprintf("%s %s: the answer is about another object: its %s is %q, not %q as requested; "+
		"a proxy or server between Terraform and tenancyd returned another object, so the answer was refused. "+
		"Check that endpoint points at tenancyd itself", e.Method, e.Path, e.Field, e.Got, e.Want)
}

// Is matches ErrWrongObject.
func (e *WrongObjectError) Is(target error) bool { return target == ErrWrongObject }

// redirectError reports a 3xx answer, which the client does not follow.
func (c *Client) redirectError(r request, resp *http.Response, attempts int) error {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	location := redact(resp.Header.Get("Location"), c.token)
	return fmt.Errorf("%s %s: the server answered %d, a redirect to %q: %w; tenancyd never redirects, and the client does not "+
		"follow redirects so that the token is sent nowhere else: set endpoint to the URL tenancyd serves the API at%s",
		r.method, r.path, resp.StatusCode, location, ErrRedirect, afterAttempts(attempts))
}

// APIError is an error answer of the API, after any retries.
type APIError struct {
	StatusCode int
	// Code, Message and Field come from the error body; a body that is not
	// the API's JSON leaves Code empty and puts its start in Message.
	Code, Message, Field string
	RequestID            string
	Method, Path         string
	// Attempts is how many attempts the call made.
	Attempts int
}

// Error reads like `PATCH /v1/tenants/acme: 412 precondition_failed: ...
// (field "x") (request id r-1)`.
func (e *APIError) Error() string {
	var b strings.Builder
	code := e.Code
	if code == "" {
		code = http.StatusText(e.StatusCode)
	}
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.Path, e.StatusCode, code)
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, " (field %q)", e.Field)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request id %s)", e.RequestID)
	}
	b.WriteString(afterAttempts(e.Attempts))
	return b.String()
}

// Is matches the sentinel error of e's status.
func (e *APIError) Is(target error) bool {
	switch e.StatusCode {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return target == ErrInvalid
	case http.StatusUnauthorized:
		return target == ErrUnauthenticated
	case http.StatusForbidden:
		return target == ErrPermissionDenied
	case http.StatusNotFound:
		return target == ErrNotFound
	case http.StatusConflict:
		return target == ErrConflict
	case http.StatusPreconditionFailed:
		return target == ErrPreconditionFailed
	case http.StatusTooManyRequests:
		return target == ErrRateLimited
	}
	return false
}

// Limits on how much of an error body is read and quoted.
const (
	maxErrorBody    = 64 << 10
	maxErrorSnippet = 200
)

// apiError reads an error answer. The token is cut out of anything the
// server said, in case a proxy echoes the request.
func (c *Client) apiError(r request, resp *http.Response, attempts int) *APIError {
	e := &APIError{
		StatusCode: resp.StatusCode, RequestID: resp.Header.Get(api.HeaderRequestID),
		Method: r.method, Path: r.path, Attempts: attempts,
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body api.ErrorBody
	switch {
	case err == nil && json.Unmarshal(data, &body) == nil && (body.Error.Code != "" || body.Error.Message != ""):
		e.Code, e.Message, e.Field = body.Error.Code, body.Error.Message, body.Error.Field
		if body.Error.RequestID != "" {
			e.RequestID = body.Error.RequestID
		}
	case err != nil:
		e.Message = "the error body could not be read: " + err.Error()
	default:
		e.Message = snippet(data)
	}
	e.Message, e.Field, e.RequestID = redact(e.Message, c.token), redact(e.Field, c.token), redact(e.RequestID, c.token)
	return e
}

// snippet is the start of a body that is not the API's JSON, on one line.
func snippet(data []byte) string {
	cut := len(data) > maxErrorSnippet
	if cut {
		data = data[:maxErrorSnippet] // A rune cut in two is dropped below.
	}
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(data), "")), " ")
	if cut {
		s += "…"
	}
	return s
}
