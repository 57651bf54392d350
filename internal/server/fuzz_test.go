package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

// requestKinds are the bodies FuzzDecodeRequest decodes and checks, each
// with the server's own check for it.
var requestKinds = []struct {
	name  string
	check func(s *Server, body []byte) (any, error)
}{
	{"tenant", func(s *Server, body []byte) (any, error) {
		var v api.TenantSpec
		if err := decodeStrict(body, &v); err != nil {
			return nil, err
		}
		return v, s.checkTenantSpec(&v)
	}},
	{"environment", func(_ *Server, body []byte) (any, error) {
		var v api.EnvironmentSpec
		if err := decodeStrict(body, &v); err != nil {
			return nil, err
		}
		return v, checkEnvironmentSpec(v)
	}},
	{"feature_flag", func(_ *Server, body []byte) (any, error) {
		var v api.FeatureFlagSpec
		if err := decodeStrict(body, &v); err != nil {
			return nil, err
		}
		return v, checkFlagSpec(v)
	}},
	{"integration", func(_ *Server, body []byte) (any, error) {
		var v api.IntegrationSpec
		if err := decodeStrict(body, &v); err != nil {
			return nil, err
		}
		return v, checkIntegrationSpec(v)
	}},
}

// FuzzDecodeRequest feeds arbitrary bodies to the strict decoder and the
// checks of each kind of object: never a panic, and every refusal is a
// client error (400 or 422) with a message, never something that would
// answer 500. A body that passes encodes and decodes to the same object.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"slug":"acme","display_name":"Acme","region":"eu-west"}`,
		`{"slug":"acme","display_name":"Acme","region":"eu-west","timezone":"Europe/Paris","language":"fr-FR","domain":"acme.example.com","labels":{"plan":"pro"},"security_policy":{"mfa_required":true,"session_timeout_minutes":30,"allowed_cidrs":["10.0.0.0/8"]},"branding":{"logo_url":"https://acme.example.com/logo.png","primary_color":"#112233"},"maintenance_window":{"day_of_week":"sunday","start_time":"02:00","duration_minutes":60}}`,
		`{"name":"staging","type":"staging","settings":{"log_level":"debug"}}`,
		`{"key":"new-billing","description":"x","environments":{"staging":{"enabled":true,"rollout_percentage":50}}}`,
		`{"name":"pagerduty","kind":"webhook","config":{"url":"https://hooks.example.com/x"},"secret_wo":"s3cret"}`,
		`{"slug":"acme","unknown":1}`, `{"slug":"\u0000"}`, `{}`, `[]`, `null`, ``, `{"labels":{"a":null}}`,
		`{"display_name":"` + strings.Repeat("é", 201) + `"}`, `{"slug":"acme"} {"slug":"acme"}`,
	} {
		for i := range requestKinds {
			f.Add(uint8(i), []byte(seed))
		}
	}
	s, err := New(Config{Data: testPlane(f)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		k := requestKinds[int(kind)%len(requestKinds)]
		v, err := k.check(s, body)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				t.Fatalf("%s %q: %v (%T) would answer 500", k.name, body, err, err)
			}
			if (ae.status != http.StatusBadRequest && ae.status != http.StatusUnprocessableEntity) || ae.message == "" {
				t.Fatalf("%s %q: %d %q; want 400 or 422 with a message", k.name, body, ae.status, ae.message)
			}
			if !utf8.ValidString(ae.message) && utf8.Valid(body) {
				t.Fatalf("%s %q: message %q is not valid UTF-8", k.name, body, ae.message)
			}
			return
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s %q: accepted, but does not encode: %v", k.name, body, err)
		}
		v2, err := k.check(s, again)
		if err != nil {
			t.Fatalf("%s %q: accepted, but its encoding %s is refused: %v", k.name, body, again, err)
		}
		if !reflect.DeepEqual(v, v2) {
			t.Fatalf("%s %q: %+v decodes again as %+v", k.name, body, v, v2)
		}
	})
}

// FuzzMergePatch makes a merge patch between two tenants with the client's
// MergePatch and applies it with the server's applyMergePatch: the result
// is the second tenant, whatever the two are.
func FuzzMergePatch(f *testing.F) {
	f.Add([]byte(`{"slug":"acme","display_name":"Acme","region":"eu-west","labels":{"a":"1","b":"2"}}`),
		[]byte(`{"slug":"acme","display_name":"Acme Corp","region":"eu-west","labels":{"b":"3","c":""}}`))
	f.Add([]byte(`{"slug":"acme","display_name":"Acme","region":"eu-west","security_policy":{"mfa_required":true,"allowed_cidrs":["10.0.0.0/8"]}}`),
		[]byte(`{"slug":"acme","display_name":"Acme","region":"eu-west","security_policy":{"mfa_required":false}}`))
	f.Add([]byte(`{"slug":"acme","display_name":"Acme","region":"eu-west","domain":"acme.example.com","data_retention_days":30}`),
		[]byte(`{"slug":"acme","display_name":"Acme","region":"eu-west","labels":{}}`))
	f.Add([]byte(`{"slug":"a","display_name":"x","region":"r","labels":{"k":"v"}}`), []byte(`{"slug":"a","display_name":"x","region":"r"}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var from, to api.TenantSpec
		if json.Unmarshal(a, &from) != nil || json.Unmarshal(b, &to) != nil {
			return
		}
		patch, err := client.MergePatch(from, to)
		if err != nil {
			t.Fatalf("MergePatch(%s, %s): %v", a, b, err)
		}
		got, err := applyMergePatch(from, patch)
		if err != nil {
			t.Fatalf("applyMergePatch(%s, %s): %v", a, patch, err)
		}
		want, _ := json.Marshal(to)
		have, _ := json.Marshal(got)
		if string(want) != string(have) {
			t.Fatalf("patch %s from %s gives\n%s\nwant\n%s", patch, a, have, want)
		}
	})
}
