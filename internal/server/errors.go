package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

// apiError is an error the client caused or must know about; anything else
// that reaches writeError is a 500 whose detail stays in the server log.
type apiError struct {
	status  int
	code    string
	message string
	field   string
	header  http.Header
}

func (e *apiError) Error() string { return e.message }

func newError(status int, code, field, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, field: field, message: fmt.Sprintf(format, args...)}
}

func errBadRequest(field, format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, api.CodeBadRequest, field, format, args...)
}

func errInvalid(field, format string, args ...any) *apiError {
	return newError(http.StatusUnprocessableEntity, api.CodeInvalid, field, format, args...)
}

func errNotFound(format string, args ...any) *apiError {
	return newError(http.StatusNotFound, api.CodeNotFound, "", format, args...)
}

// errNoRoute answers a path the API does not have. It has its own code, so
// that a client never mistakes a wrong base URL for objects that are gone.
func errNoRoute(r *http.Request) *apiError {
	return newError(http.StatusNotFound, api.CodeNoRoute, "",
		"no route for %s %s: the API's paths start with /v1/, at the server's root URL (such as http://127.0.0.1:8480, without /v1)",
		r.Method, r.URL.Path)
}

func errConflict(field, format string, args ...any) *apiError {
	return newError(http.StatusConflict, api.CodeConflict, field, format, args...)
}

func errForbidden(field, format string, args ...any) *apiError {
	return newError(http.StatusForbidden, api.CodePermissionDenied, field, format, args...)
}

// invalidField turns a validate package error into a 422 naming the field.
func invalidField(field string, err error) *apiError {
	if err == nil {
		return nil
	}
	return errInvalid(field, "%s: %s", field, err.Error())
}

// toAPIError classifies any error; store errors become their HTTP meaning.
func toAPIError(err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, store.ErrNotFound):
		return errNotFound("not found")
	case errors.Is(err, store.ErrStaleRevision):
		return newError(http.StatusPreconditionFailed, api.CodePreconditionFailed, "",
			"the object changed while this request was handled; read it again and retry")
	case errors.Is(err, store.ErrExists):
		return errConflict("", "already exists")
	}
	return nil
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if ae == nil {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path,
			"request_id", requestID(r.Context()), "error", err)
		ae = newError(http.StatusInternalServerError, api.CodeInternal, "",
			"internal error; the server log has the details under this request id")
	}
	for k, v := range ae.header {
		w.Header()[k] = v
	}
	closeIfUnread(w, r)
	writeJSON(w, ae.status, api.ErrorBody{Error: api.ErrorDetail{
		Code: ae.code, Message: ae.message, Field: ae.field, RequestID: requestID(r.Context()),
	}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"response could not be encoded"}}`)
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if len(body) > 0 {
		_, _ = w.Write(append(body, '\n'))
	}
}

// readBody reads a request body within the server's size limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, newError(http.StatusRequestEntityTooLarge, api.CodeTooLarge, "",
			"request body is larger than %d bytes", s.maxBody)
	}
	if err != nil {
		return nil, errBadRequest("", "request body could not be read: %v", err)
	}
	if depth := jsonDepth(body); depth > maxJSONDepth {
		return nil, errBadRequest("", "request body nests %d levels deep; at most %d are allowed", depth, maxJSONDepth)
	}
	return body, nil
}

// maxJSONDepth bounds how deeply a request body may nest, far above what any
// object of the API needs, so that hostile bodies are refused before any
// recursive decoding or merging touches them.
const maxJSONDepth = 32

// jsonDepth is the deepest nesting of arrays and objects in a JSON text,
// counted without parsing it; brackets inside strings do not count.
func jsonDepth(b []byte) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// decodeStrict decodes one JSON object into v, refusing unknown fields,
// wrong types and trailing data with an error that names the field.
func decodeStrict(body []byte, v any) error {
	if len(strings.TrimSpace(string(body))) == 0 {
		return errBadRequest("", "request body is empty; send a JSON object")
	}
	// No field of the API takes a NUL character, and PostgreSQL cannot
	// store one in JSON: refuse it here rather than fail in the database.
	if strings.Contains(string(body), `\u0000`) {
		return errBadRequest("", "request body holds a NUL character (\\u0000), which no field accepts")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return errBadRequest("", "request body has data after the JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		return errBadRequest(field, "%s: expected %s, got JSON %s", orBody(field), typeErr.Type.String(), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return errBadRequest("", "request body is not valid JSON at byte %d: %v", syntaxErr.Offset, err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errBadRequest(field, "unknown field %q", field)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errBadRequest("", "request body is truncated JSON")
	}
	return errBadRequest("", "request body is not valid: %v", err)
}

func orBody(field string) string {
	if field == "" {
		return "body"
	}
	return field
}

// logRequest writes a request's access log line: its method, path, status
// and request ID, never its headers, so that a bearer token cannot reach the
// log. It hands the record to the handler itself: slog.Logger would walk the
// stack for the caller's program counter on every request, for a source the
// line does not show.
func (s *Server) logRequest(r *http.Request, status int) {
	ctx, level, h := r.Context(), levelFor(status), s.log.Handler()
	if !h.Enabled(ctx, level) {
		return
	}
	rec := slog.NewRecord(time.Now(), level, "request", 0)
	rec.AddAttrs(slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", status), slog.String("request_id", requestID(ctx)))
	_ = h.Handle(ctx, rec)
}

// levelFor logs server faults as errors and everything else as info.
func levelFor(status int) slog.Level {
	if status >= http.StatusInternalServerError {
		return slog.LevelError
	}
	return slog.LevelInfo
}
