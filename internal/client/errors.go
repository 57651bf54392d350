package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
	// ErrNotFound is a 404 of the API that says the object does not exist:
	// either it is gone, or the token may not see it (see ErrOutOfReach).
	ErrNotFound = errors.New("not found")
	// ErrNoRoute is a 404 for a path the server does not have, or a 404
	// that is not the API's: the endpoint is not tenancyd's root URL. It
	// never matches ErrNotFound, so that a wrong endpoint is never taken for
	// objects that are gone.
	ErrNoRoute = errors.New("no such API path")
	// ErrOutOfReach is a 404 for an object of a tenant the client's token
	// may not see (see Client.Identify): the platform answers it exactly as
	// for an object that does not exist, so nobody can tell which it is.
	// It never matches ErrNotFound.
	ErrOutOfReach = errors.New("out of the token's reach")
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
		if e.Code == api.CodeNotFound {
			return target == ErrNotFound
		}
		// no_route, or a 404 that is not the API's own JSON.
		return target == ErrNoRoute
	case http.StatusConflict:
		return target == ErrConflict
	case http.StatusPreconditionFailed:
		return target == ErrPreconditionFailed
	case http.StatusTooManyRequests:
		return target == ErrRateLimited
	}
	return false
}

// OutOfReachError is a 404 for an object of a tenant that the client's
// token may not see. It matches ErrOutOfReach, never ErrNotFound.
type OutOfReachError struct {
	// Tenant is the tenant the request was about.
	Tenant string
	// Token is the token the client presents.
	Token api.TokenInfo
	// Err is the API's answer.
	Err *APIError
}

func (e *OutOfReachError) Error() string {
	return fmt.Sprintf("tenant %q is out of reach of the token %q, a %s token of tenant %q: the platform answers 404 "+
		"for another tenant's objects, exactly as for objects that do not exist, so this token cannot tell whether the object "+
		"still exists. Use a token of tenant %q, or a platform_admin token (%s)",
		e.Tenant, e.Token.Name, e.Token.Role, e.Token.Tenant, e.Tenant, e.Err.Error())
}

// Is matches ErrOutOfReach only.
func (e *OutOfReachError) Is(target error) bool { return target == ErrOutOfReach }

// outOfReach turns a not_found about another tenant than the one the
// client's token is scoped to into an *OutOfReachError.
func (c *Client) outOfReach(r request, e *APIError) error {
	self := c.self.Load()
	if e.StatusCode != http.StatusNotFound || e.Code != api.CodeNotFound || self == nil || self.Tenant == "" {
		return e
	}
	tenant := tenantOfPath(r.path)
	if tenant == "" || tenant == self.Tenant {
		return e
	}
	return &OutOfReachError{Tenant: tenant, Token: *self, Err: e}
}

// tenantOfPath is the tenant a path such as /v1/tenants/acme/users is
// about, "" for a path outside every tenant.
func tenantOfPath(p string) string {
	parts := strings.Split(p, "/")
	if len(parts) < 4 || parts[1] != "v1" || parts[2] != "tenants" {
		return ""
	}
	tenant, err := url.PathUnescape(parts[3])
	if err != nil {
		return ""
	}
	return tenant
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
