package server

import (
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// openapiRoutes serves the API's own description. It is public, like a
// health check: it says what the API offers, nothing about any tenant.
func (s *Server) openapiRoutes() []route {
	return []route{
		{"GET /openapi.json", public, s.serveOpenAPI},
	}
}

// serveOpenAPI builds the document on every request: it takes well under a
// millisecond, and a document built from the live route table cannot go stale.
func (s *Server) serveOpenAPI(w http.ResponseWriter, _ *http.Request, _ *principal) error {
	doc, err := json.Marshal(s.openapiDocument())
	if err != nil {
		return err
	}
	writeRaw(w, http.StatusOK, doc)
	return nil
}

// jsonObject is one object of the OpenAPI document.
type jsonObject = map[string]any

// resourceTypes describes each collection or sub-resource of the API by the
// path segment that names it: the type a GET returns, the type a write
// sends, and whether a GET of the segment itself is a list.
var resourceTypes = map[string]struct {
	item, spec any
	list       bool
}{
	"tenants":         {api.Tenant{}, api.TenantSpec{}, true},
	"environments":    {api.Environment{}, api.EnvironmentSpec{}, true},
	"users":           {api.User{}, api.UserSpec{}, true},
	"role-bindings":   {api.RoleBinding{}, api.RoleBindingSpec{}, true},
	"quota":           {api.Quota{}, api.QuotaSpec{}, false},
	"feature-flags":   {api.FeatureFlag{}, api.FeatureFlagInput{}, true},
	"integrations":    {api.Integration{}, api.IntegrationSpec{}, true},
	"promotions":      {api.Promotion{}, api.PromotionRequest{}, true},
	"rollback":        {api.Promotion{}, nil, false},
	"promotion-links": {api.PromotionLink{}, nil, true},
	"usage":           {api.Usage{}, nil, false},
	"audit-events":    {api.AuditEvent{}, nil, true},
	"tokens":          {api.Token{}, api.TokenRequest{}, true},
	"self":            {api.TokenInfo{}, nil, false},
	"backups":         {api.Backup{}, api.BackupRequest{}, true},
	"restore":         {api.RestoreResult{}, api.RestoreRequest{}, false},
	"schema":          {api.Schema{}, api.SchemaSpec{}, false},
	"credentials":     {api.Credentials{}, api.CredentialsRequest{}, false},
	"regions":         {api.Region{}, nil, true},
}

// schemaEnums are the allowed values of string fields, from the same slices
// the server validates with, keyed by "Type.field".
var schemaEnums = map[string][]string{
	"TenantSpec.isolation":     api.Isolations,
	"Tenant.status":            api.Statuses,
	"Environment.status":       api.Statuses,
	"Database.engine":          api.Engines,
	"Database.isolation":       api.Placements,
	"StoreSummary.engine":      api.Engines,
	"Backup.kind":              api.BackupKinds,
	"SchemaDrift.kind":         api.DriftKinds,
	"Tenant.provisioning_step": api.ProvisioningSteps,
	"EnvironmentSpec.type":     api.EnvironmentTypes,
	"RoleBindingSpec.role":     api.TenantRoles,
	"IntegrationSpec.kind":     api.IntegrationKinds,
	"Integration.kind":         api.IntegrationKinds,
	"PromotionRequest.include": api.PromotionScopes,
	"Promotion.include":        api.PromotionScopes,
	"TokenRequest.role":        append([]string{api.RolePlatformAdmin}, api.TenantRoles...),
	"Token.role":               append([]string{api.RolePlatformAdmin}, api.TenantRoles...),
	"TokenInfo.role":           append([]string{api.RolePlatformAdmin}, api.TenantRoles...),
	"ErrorDetail.code":         errorCodes,
	"AuditEvent.object_kind":   objectKinds,
}

var errorCodes = []string{
	api.CodeBadRequest, api.CodeUnauthenticated, api.CodePermissionDenied, api.CodeNotFound, api.CodeNoRoute, api.CodeConflict,
	api.CodePreconditionFailed, api.CodeTooLarge, api.CodeInvalid, api.CodeRateLimited, api.CodeInternal,
}

var objectKinds = []string{
	api.KindTenant, api.KindEnvironment, api.KindUser, api.KindRoleBinding, api.KindQuota,
	api.KindFeatureFlag, api.KindIntegration, api.KindPromotion, api.KindToken,
	api.KindSchema, api.KindCredentials, api.KindBackup,
}

// errorResponses are the errors every operation may answer, by status.
var errorResponses = []struct {
	status, description string
}{
	{"400", "The request is malformed: bad JSON, a wrong type, an unknown field or a bad query parameter; `field` names it."},
	{"401", "The bearer token is missing, unknown, expired or revoked."},
	{"403", "The token's role does not allow this."},
	{"404", "No such object, or a tenant the token may not see (the same answer, code not_found); code no_route: no such path."},
	{"409", "The object exists, a unique value is taken, or the state forbids the change."},
	{"412", "If-Match does not match the current revision: a stale revision, or any other entity tag (a weak tag never matches)."},
	{"413", "The request body is too large."},
	{"422", "A field's value is not allowed; `field` names it and the message says what is."},
	{"429", "The tenant's api_requests_per_minute is used up; retry after Retry-After seconds."},
}

// openapiDocument describes every route of the route table: its path and
// method, path parameters, who may call it, what it takes and answers.
func (s *Server) openapiDocument() jsonObject {
	r := newSchemaReflector()
	// The regions are the server's own (--regions), not the defaults.
	r.enums["TenantSpec.region"] = s.regions
	errRef := r.ref(reflect.TypeFor[api.ErrorBody]())
	paths := jsonObject{}
	for _, rt := range s.routeTable() {
		if isDashboard(rt) {
			continue // A browser's page and assets, not part of the JSON API.
		}
		method, path, _ := strings.Cut(rt.pattern, " ")
		item, _ := paths[path].(jsonObject)
		if item == nil {
			item = jsonObject{}
			paths[path] = item
		}
		item[strings.ToLower(method)] = r.operation(method, path, rt.access, errRef)
	}
	return jsonObject{
		"openapi": "3.0.3",
		"info": jsonObject{
			"title":   "tenancyd API",
			"version": "1",
			"description": "The API of tenancyd, the multi-tenant platform that the tenancy Terraform provider manages. " +
				"JSON field names are the provider's attribute names. PATCH takes a JSON merge patch (RFC 7396). " +
				"Every object carries a revision, returned as ETag; If-Match makes a write conditional. " +
				"POST honours Idempotency-Key. Lists are paginated with page_size and page_token.",
		},
		"servers": []any{jsonObject{"url": "/"}},
		"paths":   paths,
		"components": jsonObject{
			"schemas": r.schemas,
			"securitySchemes": jsonObject{
				"bearerAuth": jsonObject{
					"type": "http", "scheme": "bearer",
					"description": "An API token: the bootstrap token, or one minted with POST /v1/tokens.",
				},
			},
		},
		"security": []any{jsonObject{"bearerAuth": []any{}}},
	}
}

// accessRoles names who passes an access rule, for the x-tenancy-access
// extension and the operation's description.
var accessRoles = map[access]string{
	public:        "public",
	authenticated: "any valid token",
	platformAdmin: api.RolePlatformAdmin,
	tenantViewer:  api.RoleTenantViewer + " or above in the tenant",
	tenantUser:    api.RoleTenantUser + " or above in the tenant",
	tenantAdmin:   api.RoleTenantAdmin + " or above in the tenant",
}

// operation describes one route.
func (r *schemaReflector) operation(method, path string, acc access, errRef jsonObject) jsonObject {
	segments := strings.Split(strings.Trim(path, "/"), "/")
	var params []any
	for _, seg := range segments {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			params = append(params, jsonObject{
				"name": strings.TrimSuffix(name, "}"), "in": "path", "required": true,
				"schema": jsonObject{"type": "string"},
			})
		}
	}
	last := segments[len(segments)-1]
	resource := last
	if strings.HasPrefix(last, "{") && len(segments) > 1 {
		resource = segments[len(segments)-2]
	}
	rt, known := resourceTypes[resource]
	isList := known && rt.list && resource == last && method == http.MethodGet

	op := jsonObject{
		"operationId":      operationID(method, segments),
		"summary":          method + " " + path,
		"description":      "Who may call it: " + accessRoles[acc] + ".",
		"x-tenancy-access": accessRoles[acc],
	}
	op["tags"] = []any{resource}
	if acc == public {
		op["security"] = []any{}
	}

	if isList {
		params = append(params,
			queryParam("page_size", "How many items a page holds, from 1 to 500; default 50.", jsonObject{"type": "integer", "minimum": 1, "maximum": api.MaxPageSize}),
			queryParam("page_token", "The next_page_token of the previous page.", jsonObject{"type": "string"}))
		params = append(params, listFilters[path]...)
	}
	switch method {
	case http.MethodPost:
		params = append(params, headerParam(api.HeaderIdempotencyKey, "Makes a retried POST return the first answer instead of writing twice; at most 255 characters of printable text (no control characters, valid UTF-8)."))
		// Validate-only writes: every create under a tenant (a promotion's
		// body may say "dry_run" too), and restore.
		if rt.spec != nil && resource == last && strings.HasPrefix(path, "/v1/tenants/{tenant}/") || resource == "restore" {
			params = append(params, openapiDryRunParam)
		}
	case http.MethodPut:
		params = append(params, openapiDryRunParam, headerParam("If-Match", "The ETag (revision) the write requires; 412 when stale."))
		if resource == "schema" {
			params = append(params, queryParam(api.MigrationTimeoutParam,
				"How long each migration may run before it is cancelled, a duration from 1s to 1h such as 90s; default 5m.",
				jsonObject{"type": "string"}))
		}
	case http.MethodPatch, http.MethodDelete:
		// Tokens have no revisions to match.
		if resource != "tokens" {
			params = append(params, headerParam("If-Match", "The ETag (revision) the write requires; 412 when stale."))
		}
	}
	if len(params) > 0 {
		op["parameters"] = params
	}

	if known && rt.spec != nil && (method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch) {
		desc := "The object to write."
		content := jsonObject{"application/json": jsonObject{"schema": r.ref(reflect.TypeOf(rt.spec))}}
		if method == http.MethodPatch {
			// The body is read as a merge patch whatever its media type says.
			desc = "A JSON merge patch (RFC 7396) of the object: the fields to change; null removes one."
			patch := jsonObject{"schema": r.patchOf(reflect.TypeOf(rt.spec))}
			content = jsonObject{"application/merge-patch+json": patch, "application/json": patch}
		}
		op["requestBody"] = jsonObject{"required": true, "description": desc, "content": content}
	}

	responses := jsonObject{}
	for _, ok := range r.successes(method, path, last, resource, isList) {
		resp := jsonObject{"description": ok.description}
		if ok.schema != nil {
			resp["content"] = jsonObject{"application/json": jsonObject{"schema": ok.schema}}
		}
		if ok.etag {
			resp["headers"] = jsonObject{"ETag": jsonObject{"description": "The object's revision, for If-Match.", "schema": jsonObject{"type": "string"}}}
		}
		responses[ok.status] = resp
	}
	for _, e := range errorResponses {
		responses[e.status] = jsonObject{
			"description": e.description,
			"content":     jsonObject{"application/json": jsonObject{"schema": errRef}},
		}
	}
	op["responses"] = responses
	return op
}

// success is one successful answer of an operation; a nil schema has no body.
type success struct {
	status, description string
	schema              jsonObject
	etag                bool
}

// successes are the successful answers of a route.
func (r *schemaReflector) successes(method, path, last, resource string, isList bool) []success {
	rt, known := resourceTypes[resource]
	statusObject := jsonObject{"type": "object", "properties": jsonObject{"status": jsonObject{"type": "string"}}}
	switch {
	case path == "/healthz" || path == "/readyz":
		return []success{{status: "200", description: "The server (and, for readyz, its database) is up.", schema: statusObject}}
	case path == "/openapi.json":
		return []success{{status: "200", description: "This document.", schema: jsonObject{"type": "object"}}}
	case !known:
		return []success{{status: "200", description: "Success.", schema: jsonObject{"type": "object"}}}
	case method == http.MethodDelete && resource == "tenants":
		return []success{{status: "200", description: "Decommissioned; the answer says where its final backup is kept.",
			schema: r.ref(reflect.TypeFor[api.TenantDeletion]())}}
	case resource == "self":
		return []success{{status: "200", description: "The token this request presents: its tenant and role, never its secret.",
			schema: r.ref(reflect.TypeOf(rt.item))}}
	case method == http.MethodDelete && resource == "tokens":
		return []success{{status: "204", description: "Revoked, with every token minted from it, directly or not (also when it already was)."}}
	case method == http.MethodDelete:
		return []success{{status: "204", description: "Deleted."}}
	case method == http.MethodPut:
		return []success{
			{status: "200", description: "Replaced; or, with ?dry_run=true, the object as it would be.", schema: r.ref(reflect.TypeOf(rt.item)), etag: true},
			{status: "201", description: "Created.", schema: r.ref(reflect.TypeOf(rt.item)), etag: true},
		}
	case isList:
		return []success{{status: "200", description: "One page of the list, in a stable order.", schema: r.listOf(reflect.TypeOf(rt.item))}}
	case resource == "promotions" && method == http.MethodPost:
		return []success{
			{status: "201", description: "Promoted; the answer lists the changes made.", schema: r.ref(reflect.TypeOf(rt.item)), etag: true},
			{status: "200", description: "A dry run: the changes a promotion would make.", schema: r.ref(reflect.TypeOf(rt.item))},
		}
	case method == http.MethodPost && resource == last && resource != "rollback" || resource == "restore":
		created := []success{{status: "201", description: "Created.", schema: r.ref(reflect.TypeOf(rt.item)), etag: true}}
		if strings.HasPrefix(path, "/v1/tenants/{tenant}/") || resource == "restore" {
			created = append(created, success{status: "200", description: "A dry run (?dry_run=true): the object as it would be; nothing was written.",
				schema: r.ref(reflect.TypeOf(rt.item))})
		}
		return created
	}
	return []success{{status: "200", description: "Success.", schema: r.ref(reflect.TypeOf(rt.item)), etag: resource != "usage"}}
}

// listFilters are the query parameters a list takes besides paging.
var listFilters = map[string][]any{
	"/v1/tenants": {
		queryParam("label", "key=value: only tenants with this label; repeat for several (all must match).", jsonObject{"type": "string"}),
		queryParam("status", "Only tenants in this state.", jsonObject{"type": "string", "enum": toAny(api.Statuses)}),
		queryParam("region", "Only tenants in this region.", jsonObject{"type": "string"}),
	},
	"/v1/tenants/{tenant}/audit-events": {
		queryParam("object_kind", "Only events of objects of this kind.", jsonObject{"type": "string", "enum": toAny(objectKinds)}),
		queryParam("object_key", "Only events of the object with this key.", jsonObject{"type": "string"}),
		queryParam("order", "asc (oldest first, the default) or desc.", jsonObject{"type": "string", "enum": []any{"asc", "desc"}}),
	},
	"/v1/audit-events": {
		queryParam("object_kind", "Only events of objects of this kind.", jsonObject{"type": "string", "enum": toAny(objectKinds)}),
		queryParam("object_key", "Only events of the object with this key.", jsonObject{"type": "string"}),
		queryParam("order", "asc (oldest first, the default) or desc.", jsonObject{"type": "string", "enum": []any{"asc", "desc"}}),
	},
	"/v1/tokens": {
		queryParam("tenant", "Only the tokens of the tenant with this slug (a platform admin's filter; a tenant admin sees its own tenant's).", jsonObject{"type": "string"}),
	},
	"/v1/backups": {
		queryParam("tenant", "Only the backups of the tenant with this slug.", jsonObject{"type": "string"}),
	},
}

var openapiDryRunParam = queryParam("dry_run", "true runs every check and answers the object as it would be, writing nothing.", jsonObject{"type": "boolean"})

func queryParam(name, desc string, schema jsonObject) jsonObject {
	return jsonObject{"name": name, "in": "query", "required": false, "description": desc, "schema": schema}
}

func headerParam(name, desc string) jsonObject {
	return jsonObject{"name": name, "in": "header", "required": false, "description": desc, "schema": jsonObject{"type": "string"}}
}

// operationID is a stable name such as getV1TenantsTenantEnvironments.
func operationID(method string, segments []string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, seg := range segments {
		seg = strings.Trim(seg, "{}")
		for _, word := range strings.FieldsFunc(seg, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
			b.WriteString(strings.ToUpper(word[:1]) + word[1:])
		}
	}
	return b.String()
}

func toAny(values []string) []any {
	out := make([]any, len(values))
	for i, v := range values {
		out[i] = v
	}
	return out
}

// schemaReflector turns the api package's Go types into JSON schemas
// (the OpenAPI 3.0 dialect) by their json tags, collecting every named
// struct in components/schemas.
type schemaReflector struct {
	schemas jsonObject
	enums   map[string][]string
}

func newSchemaReflector() *schemaReflector {
	return &schemaReflector{schemas: jsonObject{}, enums: maps.Clone(schemaEnums)}
}

var timeType = reflect.TypeFor[time.Time]()

// ref returns a reference to a named struct's schema, defining it on first use.
func (r *schemaReflector) ref(t reflect.Type) jsonObject {
	name := t.Name()
	if _, done := r.schemas[name]; !done {
		r.schemas[name] = jsonObject{} // Reserved first, so recursive types end.
		r.schemas[name] = r.object(t)
	}
	return jsonObject{"$ref": "#/components/schemas/" + name}
}

// listOf returns a reference to the schema of a page of items.
func (r *schemaReflector) listOf(item reflect.Type) jsonObject {
	name := item.Name() + "List"
	if _, done := r.schemas[name]; !done {
		r.schemas[name] = jsonObject{
			"type":     "object",
			"required": []any{"items"},
			"properties": jsonObject{
				"items":           jsonObject{"type": "array", "items": r.ref(item)},
				"next_page_token": jsonObject{"type": "string", "description": "Pass as page_token for the next page; absent on the last page."},
			},
		}
	}
	return jsonObject{"$ref": "#/components/schemas/" + name}
}

// patchOf returns a reference to the schema of a merge patch of a struct:
// every field optional, and null to remove it.
func (r *schemaReflector) patchOf(t reflect.Type) jsonObject {
	name := t.Name() + "Patch"
	if _, done := r.schemas[name]; !done {
		whole := r.object(t)
		props := jsonObject{}
		wholeProps, _ := whole["properties"].(jsonObject)
		for k, v := range wholeProps {
			p, _ := v.(jsonObject)
			if _, isRef := p["$ref"]; isRef {
				p = jsonObject{"allOf": []any{p}}
			}
			p["nullable"] = true
			props[k] = p
		}
		r.schemas[name] = jsonObject{
			"type": "object", "properties": props, "additionalProperties": false,
			"description": "A JSON merge patch (RFC 7396) of " + t.Name() + ": only the fields to change; null removes a field.",
		}
	}
	return jsonObject{"$ref": "#/components/schemas/" + name}
}

// object is the schema of a struct: its json-tagged fields, with embedded
// structs' fields inlined as encoding/json does.
func (r *schemaReflector) object(t reflect.Type) jsonObject {
	props := jsonObject{}
	var required []any
	r.fields(t, t.Name(), props, &required)
	o := jsonObject{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func (r *schemaReflector) fields(t reflect.Type, owner string, props jsonObject, required *[]any) {
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			r.fields(f.Type, f.Type.Name(), props, required)
			continue
		}
		if name == "" {
			name = f.Name
		}
		schema := r.schema(f.Type)
		if enum := r.enums[owner+"."+name]; len(enum) > 0 {
			if schema["type"] == "array" {
				schema["items"] = jsonObject{"type": "string", "enum": toAny(enum)}
			} else {
				schema["enum"] = toAny(enum)
			}
		}
		omitempty := slices.Contains(strings.Split(opts, ","), "omitempty")
		switch f.Type.Kind() {
		case reflect.Pointer, reflect.Interface:
		case reflect.Map, reflect.Slice:
			// encoding/json writes a nil map or slice as null unless omitempty.
			if !omitempty {
				schema["nullable"] = true
			}
		default:
			if !omitempty {
				*required = append(*required, name)
			}
		}
		props[name] = schema
	}
}

// schema is the schema of any field type.
func (r *schemaReflector) schema(t reflect.Type) jsonObject {
	switch {
	case t == timeType:
		return jsonObject{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Pointer:
		s := r.schema(t.Elem())
		if _, isRef := s["$ref"]; isRef {
			// In OpenAPI 3.0 a $ref takes no siblings; allOf carries nullable.
			return jsonObject{"allOf": []any{s}, "nullable": true}
		}
		s["nullable"] = true
		return s
	case t.Kind() == reflect.Struct:
		return r.ref(t)
	case t.Kind() == reflect.Map:
		return jsonObject{"type": "object", "additionalProperties": r.schema(t.Elem())}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return jsonObject{"type": "string", "format": "byte"}
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		return jsonObject{"type": "array", "items": r.schema(t.Elem())}
	}
	switch t.Kind() {
	case reflect.String:
		return jsonObject{"type": "string"}
	case reflect.Bool:
		return jsonObject{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return jsonObject{"type": "integer", "format": "int32"}
	case reflect.Int64, reflect.Uint64:
		return jsonObject{"type": "integer", "format": "int64"}
	case reflect.Float32, reflect.Float64:
		return jsonObject{"type": "number", "format": "double"}
	}
	return jsonObject{}
}
