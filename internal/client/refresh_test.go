package client_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

// flagServer answers flag GETs, paged lists and PATCHes from memory, like
// tenancyd, and counts the requests by kind.
type flagServer struct {
	mu    sync.Mutex
	flags map[string]map[string]api.FeatureFlag // tenant, key
	calls map[string]int                        // "GET", "LIST", "PATCH", "POST" ...
	// beforeList, when set, runs before a list is answered.
	beforeList func()
	// self is the token GET /v1/tokens/self describes; nil answers 404.
	self *api.TokenInfo
	// tenants are the tenants it serves at /v1/tenants, by slug.
	tenants map[string]api.Tenant
	// strayItem, when set, is put in every list of flags: an object of
	// another tenant, as a broken proxy might add.
	strayItem *api.FeatureFlag
}

func newFlagServer(tenants, perTenant int) *flagServer {
	fs := &flagServer{flags: map[string]map[string]api.FeatureFlag{}, calls: map[string]int{}}
	for t := range tenants {
		tenant := fmt.Sprintf("t%02d", t)
		fs.flags[tenant] = map[string]api.FeatureFlag{}
		for i := range perTenant {
			key := fmt.Sprintf("flag-%04d", i)
			fs.flags[tenant][key] = api.FeatureFlag{FeatureFlagSpec: api.FeatureFlagSpec{Key: key, Description: "v1"},
				TenantID: tenant, ID: tenant + "/" + key, Meta: api.Meta{Revision: 1}}
		}
	}
	return fs
}

func (fs *flagServer) count(kind string) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.calls[kind]
}

func (fs *flagServer) setDescription(tenant, key, d string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.flags[tenant][key]
	f.Description = d
	f.Revision++
	fs.flags[tenant][key] = f
}

func (fs *flagServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if fs.serveOther(w, r) {
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v1/tenants/"), "/")
	if r.Method == http.MethodGet && len(parts) == 2 && fs.beforeList != nil {
		fs.beforeList()
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	kind := r.Method
	if r.Method == http.MethodGet && len(parts) == 2 {
		kind = "LIST"
	}
	if r.URL.Query().Get("dry_run") == "true" {
		kind += " dry run"
	}
	fs.calls[kind]++
	flags, ok := fs.flags[parts[0]]
	switch {
	case strings.HasSuffix(kind, " dry run"):
		writeJSON(w, http.StatusOK, api.Quota{TenantID: parts[0]})
	case !ok || len(parts) < 2 || parts[1] != "feature-flags":
		writeError(w, http.StatusNotFound, api.CodeNotFound, "not found", "")
	case kind == "LIST":
		size, _ := strconv.Atoi(r.URL.Query().Get("page_size"))
		after, _ := base64.RawURLEncoding.DecodeString(r.URL.Query().Get("page_token"))
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range flags {
				if k > string(after) && !yield(k) {
					return
				}
			}
		})
		page := api.List[api.FeatureFlag]{Items: []api.FeatureFlag{}}
		for i, k := range keys {
			if i == size {
				page.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(keys[i-1]))
				break
			}
			page.Items = append(page.Items, flags[k])
		}
		if fs.strayItem != nil {
			page.Items = append(page.Items, *fs.strayItem)
		}
		writeJSON(w, http.StatusOK, page)
	case len(parts) == 3:
		f, ok := flags[parts[2]]
		if !ok {
			writeError(w, http.StatusNotFound, api.CodeNotFound, "feature flag not found", "")
			return
		}
		if r.Method == http.MethodPatch {
			var patch struct{ Description string }
			_ = json.NewDecoder(r.Body).Decode(&patch)
			f.Description = patch.Description
			f.Revision++
			flags[parts[2]] = f
		}
		writeJSON(w, http.StatusOK, f)
	default:
		writeJSON(w, http.StatusOK, map[string]string{})
	}
}

// serveOther answers the token's self-description and the tenants, and
// reports whether the request was one of them.
func (fs *flagServer) serveOther(w http.ResponseWriter, r *http.Request) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	slug, isTenant := strings.CutPrefix(r.URL.Path, "/v1/tenants/")
	switch {
	case r.URL.Path == "/v1/tokens/self" && fs.self != nil:
		writeJSON(w, http.StatusOK, fs.self)
	case r.URL.Path == "/v1/tenants":
		fs.calls["LIST tenants"]++
		page := api.List[api.Tenant]{Items: []api.Tenant{}}
		for _, k := range slices.Sorted(maps.Keys(fs.tenants)) {
			page.Items = append(page.Items, fs.tenants[k])
		}
		writeJSON(w, http.StatusOK, page)
	case isTenant && !strings.Contains(slug, "/") && fs.tenants != nil:
		fs.calls[r.Method+" tenant"]++
		t, ok := fs.tenants[slug]
		if !ok {
			writeError(w, http.StatusNotFound, api.CodeNotFound, "tenant not found", "")
			return true
		}
		if r.Method == http.MethodPatch {
			var patch struct {
				DisplayName string `json:"display_name"`
			}
			_ = json.NewDecoder(r.Body).Decode(&patch)
			t.DisplayName = patch.DisplayName
			t.Revision++
			fs.tenants[slug] = t
		}
		writeJSON(w, http.StatusOK, t)
	default:
		return false
	}
	return true
}

func startFlagServer(t *testing.T, fs *flagServer) *client.Client {
	t.Helper()
	srv := httptest.NewServer(fs)
	t.Cleanup(srv.Close)
	c, err := client.New(client.Config{Endpoint: srv.URL, Token: testToken, MaxRetries: 0})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRefreshBatchesATenantsFlags refreshes 1000 flags over 10 tenants, ten
// at a time as Terraform does: each tenant costs one GET (its first flag)
// and one list of two pages, and every flag comes back as the server has it.
func TestRefreshBatchesATenantsFlags(t *testing.T) {
	fs := newFlagServer(10, 100)
	fs.flags["t03"]["flag-0042"] = api.FeatureFlag{FeatureFlagSpec: api.FeatureFlagSpec{Key: "flag-0042", Description: "special"},
		TenantID: "t03", ID: "t03/flag-0042", Meta: api.Meta{Revision: 7}}
	c := startFlagServer(t, fs)
	type job struct{ tenant, key string }
	jobs := make(chan job)
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string]api.FeatureFlag{}
	for range 10 {
		wg.Go(func() {
			for j := range jobs {
				f, err := c.RefreshFeatureFlag(t.Context(), j.tenant, j.key)
				if err != nil {
					t.Errorf("refresh %s/%s: %v", j.tenant, j.key, err)
					continue
				}
				mu.Lock()
				got[j.tenant+"/"+j.key] = *f
				mu.Unlock()
			}
		})
	}
	// Terraform walks resources in no tenant order.
	for i := range 100 {
		for t := range 10 {
			jobs <- job{fmt.Sprintf("t%02d", t), fmt.Sprintf("flag-%04d", i)}
		}
	}
	close(jobs)
	wg.Wait()
	if len(got) != 1000 {
		t.Fatalf("refreshed %d flags, want 1000", len(got))
	}
	if f := got["t03/flag-0042"]; f.Description != "special" || f.Revision != 7 || f.ID != "t03/flag-0042" {
		t.Errorf("t03/flag-0042 came back as %+v", f)
	}
	gets, lists := fs.count("GET"), fs.count("LIST")
	t.Logf("%d GETs and %d list pages for 1000 flags over 10 tenants", gets, lists)
	if gets+lists > 30 || lists < 10 {
		t.Errorf("%d GETs and %d list pages; want at most one GET and one list of the tenant per tenant", gets, lists)
	}
}

// TestRefreshParallelReadsShareOneList: ten refreshes of one tenant's flags
// at once make one GET and one list, not ten requests.
func TestRefreshParallelReadsShareOneList(t *testing.T) {
	fs := newFlagServer(1, 20)
	c := startFlagServer(t, fs)
	if _, err := c.RefreshFeatureFlag(t.Context(), "t00", "flag-0000"); err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	fs.beforeList = func() {
		close(started)
		<-release
	}
	var wg sync.WaitGroup
	for i := 1; i <= 10; i++ {
		wg.Go(func() {
			if _, err := c.RefreshFeatureFlag(t.Context(), "t00", fmt.Sprintf("flag-%04d", i)); err != nil {
				t.Error(err)
			}
		})
	}
	// Let the other readers pile up behind the list before it answers;
	// however many do, none may make a request of its own.
	<-started
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if gets, lists := fs.count("GET"), fs.count("LIST"); gets != 1 || lists != 1 {
		t.Errorf("%d GETs and %d lists for 11 flags; want 1 GET (the first flag) and 1 list", gets, lists)
	}
}

// TestRefreshServesEachObjectOnce: a second refresh of the same object in
// one operation reads it again, so it can never see an older copy than the
// first did.
func TestRefreshServesEachObjectOnce(t *testing.T) {
	fs := newFlagServer(1, 5)
	c := startFlagServer(t, fs)
	for _, key := range []string{"flag-0000", "flag-0001"} {
		if _, err := c.RefreshFeatureFlag(t.Context(), "t00", key); err != nil {
			t.Fatal(err)
		}
	}
	before := fs.count("GET")
	fs.setDescription("t00", "flag-0001", "changed by hand")
	f, err := c.RefreshFeatureFlag(t.Context(), "t00", "flag-0001")
	if err != nil {
		t.Fatal(err)
	}
	if f.Description != "changed by hand" || fs.count("GET") != before+1 {
		t.Errorf("second refresh of flag-0001: %q with %d more GETs; want the server's copy, read again", f.Description, fs.count("GET")-before)
	}
}

// TestRefreshAfterAWriteReadsAgain: once this client writes to a tenant,
// what it listed of that tenant is never served: the write may have changed it.
func TestRefreshAfterAWriteReadsAgain(t *testing.T) {
	fs := newFlagServer(2, 5)
	c := startFlagServer(t, fs)
	for _, key := range []string{"flag-0000", "flag-0001"} {
		if _, err := c.RefreshFeatureFlag(t.Context(), "t00", key); err != nil {
			t.Fatal(err)
		}
		if _, err := c.RefreshFeatureFlag(t.Context(), "t01", key); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.UpdateFeatureFlag(t.Context(), "t00", "flag-0002", json.RawMessage(`{"description":"v2"}`), 0); err != nil {
		t.Fatal(err)
	}
	f, err := c.RefreshFeatureFlag(t.Context(), "t00", "flag-0002")
	if err != nil {
		t.Fatal(err)
	}
	if f.Description != "v2" {
		t.Errorf("refresh after this client's write: %q, want v2", f.Description)
	}
	// Another tenant's list is not concerned: it is still served.
	gets := fs.count("GET")
	if _, err := c.RefreshFeatureFlag(t.Context(), "t01", "flag-0002"); err != nil {
		t.Fatal(err)
	}
	if fs.count("GET") != gets {
		t.Error("a write to t00 dropped what the client listed of t01")
	}
	// A dry run writes nothing and drops nothing.
	if _, err := c.CheckQuota(t.Context(), "t01", "", api.QuotaSpec{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RefreshFeatureFlag(t.Context(), "t01", "flag-0003"); err != nil {
		t.Fatal(err)
	}
	if fs.count("GET") != gets {
		t.Error("a dry run dropped what the client listed")
	}
}

// TestRefreshIgnoresAListAWriteOvertook: a list that was in flight while the
// client wrote to the tenant may predate the write; it is not used.
func TestRefreshIgnoresAListAWriteOvertook(t *testing.T) {
	fs := newFlagServer(1, 5)
	c := startFlagServer(t, fs)
	if _, err := c.RefreshFeatureFlag(t.Context(), "t00", "flag-0000"); err != nil {
		t.Fatal(err)
	}
	listing, written := make(chan struct{}), make(chan struct{})
	fs.beforeList = func() {
		fs.beforeList = nil
		close(listing)
		<-written
	}
	go func() {
		<-listing
		if _, err := c.UpdateFeatureFlag(t.Context(), "t00", "flag-0003", json.RawMessage(`{"description":"v2"}`), 0); err != nil {
			t.Error(err)
		}
		close(written)
	}()
	// The list is answered after the write; a real server may have read
	// the tenant before it. The refresh must not use it, but GET the flag.
	f, err := c.RefreshFeatureFlag(t.Context(), "t00", "flag-0003")
	if err != nil {
		t.Fatal(err)
	}
	if f.Description != "v2" {
		t.Errorf("refresh during a write: %q, want v2", f.Description)
	}
	if gets := fs.count("GET"); gets != 2 {
		t.Errorf("%d GETs; want the first flag's and, the list being overtaken by a write, flag-0003's own", gets)
	}
}

// TestRefreshOfAMissingObject: an object the list of its tenant lacks is
// gone, without a GET of its own: the list proves the tenant is there and
// within the token's reach. In a missing tenant, each refresh is its own
// GET's 404.
func TestRefreshOfAMissingObject(t *testing.T) {
	fs := newFlagServer(1, 3)
	c := startFlagServer(t, fs)
	if _, err := c.RefreshFeatureFlag(t.Context(), "t00", "flag-0000"); err != nil {
		t.Fatal(err)
	}
	_, err := c.RefreshFeatureFlag(t.Context(), "t00", "gone")
	if !errors.Is(err, client.ErrNotFound) || errors.Is(err, client.ErrOutOfReach) {
		t.Errorf("refresh of a missing flag: %v, want ErrNotFound", err)
	}
	if gets, lists := fs.count("GET"), fs.count("LIST"); gets != 1 || lists != 1 {
		t.Errorf("%d GETs and %d lists for a flag and a missing one; want 1 and 1", gets, lists)
	}
	if _, err := c.RefreshFeatureFlag(t.Context(), "nope", "flag-0000"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("refresh in a missing tenant: %v, want ErrNotFound", err)
	}
	if _, err := c.RefreshFeatureFlag(t.Context(), "nope", "flag-0001"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("second refresh in a missing tenant (its list fails): %v, want ErrNotFound", err)
	}
}

// TestRefreshOutOfReachIsNeverGone: with a token of tenant t00, the flags of
// t01 answer 404 like missing ones. Their list fails, and every refresh
// there is an ErrOutOfReach from its own GET, never ErrNotFound, so that the
// provider keeps them in the state.
func TestRefreshOutOfReachIsNeverGone(t *testing.T) {
	fs := newFlagServer(1, 3)
	fs.self = &api.TokenInfo{ID: "tok_1", Name: "ci", Tenant: "t00", Role: api.RoleTenantAdmin}
	c := startFlagServer(t, fs)
	if _, err := c.Identify(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"flag-0000", "flag-0001", "flag-0002"} {
		_, err := c.RefreshFeatureFlag(t.Context(), "t01", key)
		if !errors.Is(err, client.ErrOutOfReach) || errors.Is(err, client.ErrNotFound) {
			t.Errorf("refresh of t01/%s with a token of t00: %v; want ErrOutOfReach only", key, err)
		}
	}
	if lists := fs.count("LIST"); lists != 1 {
		t.Errorf("%d lists of t01's flags; want the one that failed, and no other", lists)
	}
	// In the token's own tenant, a flag missing from the list is gone.
	for _, key := range []string{"flag-0000", "flag-0001", "gone"} {
		_, err := c.RefreshFeatureFlag(t.Context(), "t00", key)
		if key == "gone" && !errors.Is(err, client.ErrNotFound) || key != "gone" && err != nil {
			t.Errorf("refresh of t00/%s: %v", key, err)
		}
	}
}

// TestRefreshRefusesAListOfAnotherTenant: a list of t00's flags that holds
// an object of t01 (a proxy in the way) is refused as a whole; each flag is
// read with its own GET, whose identity is checked as always.
func TestRefreshRefusesAListOfAnotherTenant(t *testing.T) {
	fs := newFlagServer(2, 3)
	stray := fs.flags["t01"]["flag-0001"]
	stray.Description = "of t01"
	fs.strayItem = &stray
	c := startFlagServer(t, fs)
	for _, key := range []string{"flag-0000", "flag-0001", "flag-0002"} {
		f, err := c.RefreshFeatureFlag(t.Context(), "t00", key)
		if err != nil {
			t.Fatalf("refresh of t00/%s: %v", key, err)
		}
		if f.TenantID != "t00" || f.Description == "of t01" {
			t.Errorf("refresh of t00/%s came back as %+v, an object of another tenant", key, f)
		}
	}
	if gets := fs.count("GET"); gets != 3 {
		t.Errorf("%d GETs; want one per flag, the list being refused", gets)
	}
}

// TestRefreshTenantsAfterAWrite: the list of tenants holds every tenant, so
// a write to any one drops it: a tenant written by this client is read
// again, never served from a list made before the write.
func TestRefreshTenantsAfterAWrite(t *testing.T) {
	fs := newFlagServer(0, 0)
	fs.tenants = map[string]api.Tenant{}
	for _, slug := range []string{"t00", "t01", "t02"} {
		fs.tenants[slug] = api.Tenant{TenantSpec: api.TenantSpec{Slug: slug, DisplayName: "v1"}, ID: slug, Meta: api.Meta{Revision: 1}}
	}
	c := startFlagServer(t, fs)
	for _, slug := range []string{"t00", "t01"} {
		if _, err := c.RefreshTenant(t.Context(), slug); err != nil {
			t.Fatal(err)
		}
	}
	if gets, lists := fs.count("GET tenant"), fs.count("LIST tenants"); gets != 1 || lists != 1 {
		t.Fatalf("%d GETs and %d lists for two tenants; want 1 and 1", gets, lists)
	}
	if _, err := c.UpdateTenant(t.Context(), "t02", json.RawMessage(`{"display_name":"v2"}`), 0); err != nil {
		t.Fatal(err)
	}
	got, err := c.RefreshTenant(t.Context(), "t02")
	if err != nil {
		t.Fatal(err)
	}
	if got.DisplayName != "v2" {
		t.Errorf("refresh of t02 after this client's write: %q, want v2", got.DisplayName)
	}
	// A tenant the list of tenants lacks is asked for with its own GET,
	// which tells a tenant that is gone from one out of the token's reach.
	gets := fs.count("GET tenant")
	if _, err := c.RefreshTenant(t.Context(), "gone"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("refresh of a missing tenant: %v, want ErrNotFound", err)
	}
	if fs.count("GET tenant") != gets+1 {
		t.Error("a tenant missing from the list of tenants was not asked for with its own GET")
	}
}
