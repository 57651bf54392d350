package client_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

// benchFlags answers precomputed flags, so that the benchmarks measure the
// client (retryablehttp, headers, JSON decoding), not a server.
func benchClient(b *testing.B, flags int) *client.Client {
	b.Helper()
	items := make([]api.FeatureFlag, flags)
	for i := range items {
		key := fmt.Sprintf("flag-%04d", i)
		items[i] = api.FeatureFlag{
			FeatureFlagSpec: api.FeatureFlagSpec{Key: key, Description: "A benchmark flag",
				Environments: map[string]api.FlagEnvironment{"staging": {Enabled: true, RolloutPercentage: 50}}},
			TenantID: "acme", ID: "acme/" + key, Meta: api.Meta{Revision: 3},
		}
	}
	one, _ := json.Marshal(items[0])
	pages := map[string][]byte{}
	for start := 0; start < len(items); start += api.MaxPageSize {
		end := min(start+api.MaxPageSize, len(items))
		page := api.List[api.FeatureFlag]{Items: items[start:end]}
		if end < len(items) {
			page.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(items[end-1].Key))
		}
		token := ""
		if start > 0 {
			token = base64.RawURLEncoding.EncodeToString([]byte(items[start-1].Key))
		}
		pages[token], _ = json.Marshal(page)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v1/tenants/acme/feature-flags" {
			w.Header().Set("Content-Length", strconv.Itoa(len(pages[r.URL.Query().Get("page_token")])))
			_, _ = w.Write(pages[r.URL.Query().Get("page_token")])
			return
		}
		_, _ = w.Write(one)
	}))
	b.Cleanup(srv.Close)
	c, err := client.New(client.Config{Endpoint: srv.URL, Token: testToken})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkClientGet is the client's side of one GET of a flag.
func BenchmarkClientGet(b *testing.B) {
	c := benchClient(b, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.GetFeatureFlag(b.Context(), "acme", "flag-0000"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientListFlags is the client's side of listing a tenant's 1000
// flags, in pages of the maximum size.
func BenchmarkClientListFlags(b *testing.B) {
	c := benchClient(b, 1000)
	b.ReportAllocs()
	for b.Loop() {
		flags, err := c.ListFeatureFlags(b.Context(), "acme")
		if err != nil || len(flags) != 1000 {
			b.Fatalf("listed %d flags: %v", len(flags), err)
		}
	}
}
