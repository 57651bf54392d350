package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// fetchOpenAPI reads the document as an anonymous caller would.
func fetchOpenAPI(t *testing.T, ts *testServer) map[string]any {
	t.Helper()
	r := ts.mustCall(t, http.StatusOK, "", "GET", "/openapi.json", nil)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var doc map[string]any
	r.json(t, &doc)
	return doc
}

var pathParamPattern = regexp.MustCompile(`\{([^}]+)\}`)

// TestOpenAPIDescribesEveryRoute walks the route table: every route is in the
// document with its method, path parameters and access rule, nothing else
// is, and every documented operation is one the router serves.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	doc := fetchOpenAPI(t, ts)
	paths, _ := doc["paths"].(map[string]any)

	want := map[string]route{}
	for _, rt := range ts.srv.routeTable() {
		if isDashboard(rt) {
			continue // The dashboard is left out of the document on purpose.
		}
		method, path, _ := strings.Cut(rt.pattern, " ")
		want[strings.ToLower(method)+" "+path] = rt
	}
	got := map[string]map[string]any{}
	for path, item := range paths {
		for method, op := range item.(map[string]any) {
			if o, ok := op.(map[string]any); ok && slices.Contains(httpMethods, method) {
				got[method+" "+path] = o
			}
		}
	}
	for key, rt := range want {
		op, ok := got[key]
		if !ok {
			t.Errorf("route %s is not in /openapi.json", rt.pattern)
			continue
		}
		_, path, _ := strings.Cut(key, " ")
		var declared []string
		params, _ := op["parameters"].([]any)
		for _, p := range params {
			if p := p.(map[string]any); p["in"] == "path" {
				declared = append(declared, p["name"].(string))
			}
		}
		var templated []string
		for _, m := range pathParamPattern.FindAllStringSubmatch(path, -1) {
			templated = append(templated, m[1])
		}
		if !slices.Equal(declared, templated) {
			t.Errorf("%s: path parameters %v, want %v", rt.pattern, declared, templated)
		}
		if op["x-tenancy-access"] != accessRoles[rt.access] {
			t.Errorf("%s: x-tenancy-access %v, want %q", rt.pattern, op["x-tenancy-access"], accessRoles[rt.access])
		}
		security, overridden := op["security"].([]any)
		if public := rt.access == public; public != (overridden && len(security) == 0) {
			t.Errorf("%s: security %v for access %s", rt.pattern, op["security"], accessRoles[rt.access])
		}
	}
	for key := range got {
		if _, ok := want[key]; !ok {
			t.Errorf("/openapi.json documents %s, which the route table does not have", key)
		}
	}

	// Every documented operation reaches its handler, not the catch-all.
	for key := range got {
		method, path, _ := strings.Cut(key, " ")
		concrete := pathParamPattern.ReplaceAllString(path, "x1")
		r := ts.call(t, ts.admin, strings.ToUpper(method), concrete, nil)
		if r.status == http.StatusNotFound && strings.Contains(string(r.body), "no route for") {
			t.Errorf("%s %s is documented but the router has no such route: %s", strings.ToUpper(method), concrete, r.body)
		}
	}
	t.Logf("/openapi.json documents %d operations on %d paths", len(got), len(paths))
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// TestOpenAPIIsWellFormed checks the document against the rules of the
// OpenAPI 3.0 specification that a generator can break: required fields,
// parameter and response shapes, unique operation ids, schemas made only of
// OpenAPI schema keywords, and every $ref resolving.
func TestOpenAPIIsWellFormed(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	doc := fetchOpenAPI(t, ts)
	v := &openapiValidator{t: t, doc: doc, opIDs: map[string]string{}}
	v.document()
	if v.errors == 0 {
		t.Logf("checked %d operations, %d schemas, %d $refs", len(v.opIDs), v.schemas, v.refs)
	}
}

type openapiValidator struct {
	t              *testing.T
	doc            map[string]any
	opIDs          map[string]string
	schemas, refs  int
	errors         int
	componentNames map[string]bool
}

func (v *openapiValidator) fail(at, format string, args ...any) {
	v.t.Helper()
	v.errors++
	v.t.Errorf("%s: %s", at, fmt.Sprintf(format, args...))
}

func (v *openapiValidator) obj(at string, x any) map[string]any {
	v.t.Helper()
	o, ok := x.(map[string]any)
	if !ok {
		v.fail(at, "want an object, got %T", x)
	}
	return o
}

func (v *openapiValidator) str(at string, o map[string]any, key string) string {
	v.t.Helper()
	s, ok := o[key].(string)
	if !ok || s == "" {
		v.fail(at, "%q must be a non-empty string, got %v", key, o[key])
	}
	return s
}

func (v *openapiValidator) onlyKeys(at string, o map[string]any, allowed ...string) {
	v.t.Helper()
	for k := range o {
		if !slices.Contains(allowed, k) && !strings.HasPrefix(k, "x-") {
			v.fail(at, "unexpected key %q (allowed: %v)", k, allowed)
		}
	}
}

func (v *openapiValidator) document() {
	d := v.doc
	v.onlyKeys("document", d, "openapi", "info", "servers", "paths", "components", "security", "tags", "externalDocs")
	if !regexp.MustCompile(`^3\.0\.\d+$`).MatchString(fmt.Sprint(d["openapi"])) {
		v.fail("openapi", "want 3.0.x, got %v", d["openapi"])
	}
	info := v.obj("info", d["info"])
	v.str("info", info, "title")
	v.str("info", info, "version")
	components := v.obj("components", d["components"])
	v.onlyKeys("components", components, "schemas", "responses", "parameters", "examples", "requestBodies", "headers", "securitySchemes", "links", "callbacks")
	schemes := v.obj("components.securitySchemes", components["securitySchemes"])
	for name, s := range schemes {
		s := v.obj("securitySchemes."+name, s)
		if s["type"] == "http" {
			v.str("securitySchemes."+name, s, "scheme")
		}
	}
	v.security("security", d["security"], schemes)
	v.componentNames = map[string]bool{}
	schemas := v.obj("components.schemas", components["schemas"])
	for name := range schemas {
		if !regexp.MustCompile(`^[a-zA-Z0-9._-]+$`).MatchString(name) {
			v.fail("components.schemas", "invalid name %q", name)
		}
		v.componentNames[name] = true
	}
	for name, s := range schemas {
		v.schema("components.schemas."+name, s)
	}
	paths := v.obj("paths", d["paths"])
	if len(paths) == 0 {
		v.fail("paths", "no paths")
	}
	for path, item := range paths {
		if !strings.HasPrefix(path, "/") {
			v.fail("paths", "path %q must start with /", path)
		}
		item := v.obj(path, item)
		v.onlyKeys(path, item, append(slices.Clone(httpMethods), "summary", "description", "servers", "parameters", "$ref")...)
		for method, op := range item {
			if slices.Contains(httpMethods, method) {
				v.operation(method+" "+path, path, v.obj(method+" "+path, op), schemes)
			}
		}
	}
}

func (v *openapiValidator) security(at string, x any, schemes map[string]any) {
	list, ok := x.([]any)
	if !ok {
		v.fail(at, "security must be an array, got %T", x)
		return
	}
	for _, req := range list {
		for name, scopes := range v.obj(at, req) {
			if _, ok := schemes[name]; !ok {
				v.fail(at, "security scheme %q is not defined", name)
			}
			if _, ok := scopes.([]any); !ok {
				v.fail(at, "scopes of %q must be an array", name)
			}
		}
	}
}

func (v *openapiValidator) operation(at, path string, op map[string]any, schemes map[string]any) {
	v.onlyKeys(at, op, "tags", "summary", "description", "externalDocs", "operationId", "parameters", "requestBody",
		"responses", "callbacks", "deprecated", "security", "servers")
	id := v.str(at, op, "operationId")
	if prev, dup := v.opIDs[id]; dup {
		v.fail(at, "operationId %q is also used by %s", id, prev)
	}
	v.opIDs[id] = at
	if s, ok := op["security"]; ok {
		v.security(at+".security", s, schemes)
	}
	seen := map[string]bool{}
	var pathParams []string
	params, _ := op["parameters"].([]any)
	for i, p := range params {
		pat := fmt.Sprintf("%s.parameters[%d]", at, i)
		p := v.obj(pat, p)
		v.onlyKeys(pat, p, "name", "in", "description", "required", "deprecated", "allowEmptyValue", "style", "explode", "allowReserved", "schema", "example", "examples", "content")
		name, in := v.str(pat, p, "name"), v.str(pat, p, "in")
		if !slices.Contains([]string{"query", "header", "path", "cookie"}, in) {
			v.fail(pat, "in %q", in)
		}
		if seen[in+":"+name] {
			v.fail(pat, "parameter %s %q is declared twice", in, name)
		}
		seen[in+":"+name] = true
		if in == "path" {
			pathParams = append(pathParams, name)
			if p["required"] != true {
				v.fail(pat, "a path parameter must be required")
			}
		}
		if _, ok := p["schema"]; !ok {
			v.fail(pat, "no schema")
		} else {
			v.schema(pat+".schema", p["schema"])
		}
	}
	var templated []string
	for _, m := range pathParamPattern.FindAllStringSubmatch(path, -1) {
		templated = append(templated, m[1])
	}
	if !slices.Equal(pathParams, templated) {
		v.fail(at, "path parameters %v, path template has %v", pathParams, templated)
	}
	if rb, ok := op["requestBody"]; ok {
		rb := v.obj(at+".requestBody", rb)
		v.onlyKeys(at+".requestBody", rb, "description", "content", "required")
		v.content(at+".requestBody", rb["content"])
	}
	responses := v.obj(at+".responses", op["responses"])
	if len(responses) == 0 {
		v.fail(at, "no responses")
	}
	for code, resp := range responses {
		rat := at + ".responses." + code
		if code != "default" && !regexp.MustCompile(`^[1-5]([0-9]{2}|XX)$`).MatchString(code) {
			v.fail(rat, "invalid status %q", code)
		}
		resp := v.obj(rat, resp)
		v.onlyKeys(rat, resp, "description", "headers", "content", "links")
		v.str(rat, resp, "description")
		if c, ok := resp["content"]; ok {
			v.content(rat, c)
		}
		if h, ok := resp["headers"]; ok {
			for name, hdr := range v.obj(rat+".headers", h) {
				v.schema(rat+".headers."+name, v.obj(rat, hdr)["schema"])
			}
		}
	}
}

func (v *openapiValidator) content(at string, x any) {
	c := v.obj(at+".content", x)
	if len(c) == 0 {
		v.fail(at, "content is empty")
	}
	for media, m := range c {
		if !strings.Contains(media, "/") {
			v.fail(at, "media type %q", media)
		}
		m := v.obj(at+"."+media, m)
		v.onlyKeys(at+"."+media, m, "schema", "example", "examples", "encoding")
		v.schema(at+"."+media+".schema", m["schema"])
	}
}

// schemaKeywords are the keywords of an OpenAPI 3.0 Schema Object.
var schemaKeywords = []string{
	"title", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength",
	"pattern", "maxItems", "minItems", "uniqueItems", "maxProperties", "minProperties", "required", "enum",
	"type", "allOf", "oneOf", "anyOf", "not", "items", "properties", "additionalProperties", "description",
	"format", "default", "nullable", "discriminator", "readOnly", "writeOnly", "xml", "externalDocs", "example", "deprecated",
}

func (v *openapiValidator) schema(at string, x any) {
	v.schemas++
	s := v.obj(at, x)
	if s == nil {
		return
	}
	if ref, ok := s["$ref"]; ok {
		v.refs++
		if len(s) != 1 {
			v.fail(at, "a $ref takes no sibling keys in OpenAPI 3.0: %v", s)
		}
		name, ok := strings.CutPrefix(fmt.Sprint(ref), "#/components/schemas/")
		if !ok || !v.componentNames[name] {
			v.fail(at, "$ref %v does not resolve", ref)
		}
		return
	}
	v.onlyKeys(at, s, schemaKeywords...)
	if typ, ok := s["type"]; ok && !slices.Contains([]string{"string", "number", "integer", "boolean", "array", "object"}, fmt.Sprint(typ)) {
		v.fail(at, "type %v", typ)
	}
	if s["type"] == "array" {
		if _, ok := s["items"]; !ok {
			v.fail(at, "an array needs items")
		}
	}
	if items, ok := s["items"]; ok {
		v.schema(at+".items", items)
	}
	props, _ := s["properties"].(map[string]any)
	for name, p := range props {
		v.schema(at+".properties."+name, p)
	}
	if req, ok := s["required"]; ok {
		list, _ := req.([]any)
		if len(list) == 0 {
			v.fail(at, "required must be a non-empty array")
		}
		for _, name := range list {
			if _, ok := props[fmt.Sprint(name)]; !ok {
				v.fail(at, "required %v is not a property", name)
			}
		}
	}
	if e, ok := s["enum"]; ok {
		if list, _ := e.([]any); len(list) == 0 {
			v.fail(at, "enum must be a non-empty array")
		}
	}
	switch ap := s["additionalProperties"].(type) {
	case nil, bool:
	case map[string]any:
		v.schema(at+".additionalProperties", ap)
	default:
		v.fail(at, "additionalProperties %T", ap)
	}
	for _, k := range []string{"allOf", "oneOf", "anyOf"} {
		if list, ok := s[k]; ok {
			for i, sub := range list.([]any) {
				v.schema(fmt.Sprintf("%s.%s[%d]", at, k, i), sub)
			}
		}
	}
}

// TestOpenAPISchemasDescribeRealAnswers validates what the server answers
// against the document's schemas, so a field the api types gain or lose
// without the document following fails here.
func TestOpenAPISchemasDescribeRealAnswers(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	doc := fetchOpenAPI(t, ts)
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	check := func(schema string, body []byte) {
		t.Helper()
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		for _, problem := range matchSchema(schemas, map[string]any{"$ref": "#/components/schemas/" + schema}, v, schema) {
			t.Errorf("%s does not match its schema: %s\n%s", schema, problem, body)
		}
	}

	created := ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants", map[string]any{
		"slug": "acme", "display_name": "Acme", "region": "eu-west", "domain": "acme.example.com",
		"branding":        map[string]any{"primary_color": "#112233"},
		"labels":          map[string]string{"tier": "gold"},
		"security_policy": map[string]any{"allowed_cidrs": []string{"10.0.0.0/8"}},
	})
	check("Tenant", created.body)
	check("Tenant", ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme", nil).body)
	check("TenantList", ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants?page_size=1", nil).body)
	check("AuditEventList", ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/audit-events", nil).body)
	check("ErrorBody", ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/nope", nil).body)
	check("ErrorBody", ts.mustCall(t, http.StatusBadRequest, ts.admin, "POST", "/v1/tenants", `{"slug": 1}`).body)
	check("Token", ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tokens",
		api.TokenRequest{Name: "ci", Tenant: "acme", Role: api.RoleTenantViewer}).body)
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme", map[string]any{"deletion_protection": false})
	check("TenantDeletion", ts.mustCall(t, http.StatusOK, ts.admin, "DELETE", "/v1/tenants/acme", nil).body)
	check("BackupList", ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/backups", nil).body)
	var backups api.List[api.Backup]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/backups", nil).json(t, &backups)
	check("RestoreResult", ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/backups/"+backups.Items[0].ID+"/restore", nil).body)

	// And a schema catches what it must: an unknown field, a missing one, a wrong type.
	if len(matchSchema(schemas, map[string]any{"$ref": "#/components/schemas/Backup"},
		map[string]any{"id": "b", "tenant": "t", "taken_at": "x", "retain_until": "y", "extra": 1}, "Backup")) == 0 {
		t.Error("an unknown field matched the Backup schema")
	}
	if len(matchSchema(schemas, map[string]any{"$ref": "#/components/schemas/Backup"},
		map[string]any{"id": "b", "tenant": 5, "taken_at": "x"}, "Backup")) < 2 {
		t.Error("a wrong type and a missing field matched the Backup schema")
	}
}

// matchSchema lists how v departs from schema, for the keywords the
// document uses.
func matchSchema(schemas map[string]any, schema map[string]any, v any, at string) []string {
	if ref, ok := schema["$ref"].(string); ok {
		target, _ := schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
		if target == nil {
			return []string{at + ": unresolved " + ref}
		}
		return matchSchema(schemas, target, v, at)
	}
	if v == nil {
		if schema["nullable"] == true {
			return nil
		}
		return []string{at + ": null is not allowed"}
	}
	var problems []string
	if all, ok := schema["allOf"].([]any); ok {
		for _, sub := range all {
			problems = append(problems, matchSchema(schemas, sub.(map[string]any), v, at)...)
		}
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, v) {
		problems = append(problems, fmt.Sprintf("%s: %v is not one of %v", at, v, enum))
	}
	switch schema["type"] {
	case "object":
		o, ok := v.(map[string]any)
		if !ok {
			return append(problems, fmt.Sprintf("%s: want an object, got %T", at, v))
		}
		props, _ := schema["properties"].(map[string]any)
		for _, name := range asStrings(schema["required"]) {
			if _, ok := o[name]; !ok {
				problems = append(problems, at+": missing required "+name)
			}
		}
		for name, val := range o {
			switch p, ok := props[name].(map[string]any); {
			case ok:
				problems = append(problems, matchSchema(schemas, p, val, at+"."+name)...)
			case schema["additionalProperties"] == false:
				problems = append(problems, at+": unknown field "+name)
			default:
				if ap, ok := schema["additionalProperties"].(map[string]any); ok {
					problems = append(problems, matchSchema(schemas, ap, val, at+"."+name)...)
				}
			}
		}
	case "array":
		list, ok := v.([]any)
		if !ok {
			return append(problems, fmt.Sprintf("%s: want an array, got %T", at, v))
		}
		for i, item := range list {
			problems = append(problems, matchSchema(schemas, schema["items"].(map[string]any), item, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string":
		s, ok := v.(string)
		if !ok {
			return append(problems, fmt.Sprintf("%s: want a string, got %T", at, v))
		}
		if schema["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %q is not a date-time", at, s))
			}
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != float64(int64(f)) {
			problems = append(problems, fmt.Sprintf("%s: want an integer, got %v", at, v))
		}
	case "number":
		if _, ok := v.(float64); !ok {
			problems = append(problems, fmt.Sprintf("%s: want a number, got %T", at, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			problems = append(problems, fmt.Sprintf("%s: want a boolean, got %T", at, v))
		}
	}
	return problems
}

func asStrings(x any) []string {
	list, _ := x.([]any)
	out := make([]string, 0, len(list))
	for _, v := range list {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

// TestSchemaReflector pins how Go types become schemas.
func TestSchemaReflector(t *testing.T) {
	t.Parallel()
	type inner struct {
		A string `json:"a"`
	}
	type Embedded struct {
		E int64 `json:"e"`
	}
	type sample struct {
		Embedded
		Name    string            `json:"name"`
		Opt     string            `json:"opt,omitempty"`
		Ptr     *int64            `json:"ptr,omitempty"`
		Nested  *inner            `json:"nested,omitempty"`
		Labels  map[string]string `json:"labels"`
		List    []string          `json:"list"`
		When    time.Time         `json:"when"`
		Rate    float64           `json:"rate"`
		Flag    bool              `json:"flag"`
		Raw     []byte            `json:"raw"`
		Skipped string            `json:"-"`
	}
	r := newSchemaReflector()
	ref := r.ref(reflect.TypeFor[sample]())
	if ref["$ref"] != "#/components/schemas/sample" {
		t.Fatalf("ref %v", ref)
	}
	got, err := json.Marshal(r.schemas)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"inner":{"additionalProperties":false,"properties":{"a":{"type":"string"}},"required":["a"],"type":"object"},` +
		`"sample":{"additionalProperties":false,"properties":{` +
		`"e":{"format":"int64","type":"integer"},` +
		`"flag":{"type":"boolean"},` +
		`"labels":{"additionalProperties":{"type":"string"},"nullable":true,"type":"object"},` +
		`"list":{"items":{"type":"string"},"nullable":true,"type":"array"},` +
		`"name":{"type":"string"},` +
		`"nested":{"allOf":[{"$ref":"#/components/schemas/inner"}],"nullable":true},` +
		`"opt":{"type":"string"},` +
		`"ptr":{"format":"int64","nullable":true,"type":"integer"},` +
		`"rate":{"format":"double","type":"number"},` +
		`"raw":{"format":"byte","nullable":true,"type":"string"},` +
		`"when":{"format":"date-time","type":"string"}},` +
		`"required":["e","name","when","rate","flag"],"type":"object"}}`
	if string(got) != want {
		t.Errorf("schemas\n got %s\nwant %s", got, want)
	}
}
