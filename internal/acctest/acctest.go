// Package acctest starts a real tenancyd for tests: the HTTP API on a free
// loopback port over a fresh database, the same code that `tenancyd serve`
// runs. Acceptance tests point the real Terraform CLI at it. It does not
// import the provider, so the provider's own tests can use it.
package acctest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/server"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
)

// Server is a running tenancyd.
type Server struct {
	URL   string
	Token string // a platform-admin token
	Store store.Store
	// Data is tenancyd's tenant data plane, for checking what the data
	// stores hold.
	Data   tenantdata.Plane
	Client *client.Client // a client with the platform-admin token
	// SecretKey is the key tenancyd encrypts write-only secrets with.
	SecretKey []byte
}

// OpenSecret returns the write-only secret of an integration read from the
// store (data is the stored object), decrypted.
func (s *Server) OpenSecret(data []byte) (*string, error) {
	return server.OpenSecret(s.SecretKey, data)
}

type options struct {
	database          string
	provisioningDelay time.Duration
}

// Option changes how Start runs tenancyd.
type Option func(*options)

// WithDatabase uses a database URL instead of a fresh SQLite file.
func WithDatabase(url string) Option { return func(o *options) { o.database = url } }

// WithProvisioningDelay sets how long new tenants take to become active.
func WithProvisioningDelay(d time.Duration) Option {
	return func(o *options) { o.provisioningDelay = d }
}

// Start runs tenancyd until the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := options{
		database:          "sqlite://" + filepath.Join(t.TempDir(), "tenancy.db"),
		provisioningDelay: 300 * time.Millisecond,
	}
	for _, opt := range opts {
		opt(&o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, o.database)
	if err != nil {
		cancel()
		t.Fatalf("open store: %v", err)
	}
	// Tenant data where tenancyd puts it by default: beside the SQLite
	// file, or on the PostgreSQL server.
	data, err := tenantdata.Open(ctx, o.database, "", "")
	if err != nil {
		cancel()
		t.Fatalf("open tenant data: %v", err)
	}
	token := "tny_acctest_" + RandomSuffix()
	if _, err := server.Bootstrap(ctx, st, token); err != nil {
		cancel()
		t.Fatalf("bootstrap: %v", err)
	}
	// Secrets at rest are encrypted, as in production.
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	srv, err := server.New(server.Config{
		Store: st, ProvisioningDelay: o.provisioningDelay, SecretKey: key, Data: data, DataInterval: time.Second,
		DefaultRequestsPerMinute: server.DefaultRequestsPerMinute, MaxTenantConcurrency: server.DefaultMaxTenantConcurrency,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		cancel()
		t.Fatalf("server: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatalf("listen: %v", err)
	}
	// The limits tenancyd serves with, so that tests meet its deadlines.
	limits := server.DefaultConnLimits()
	ln = limits.Listener(ln)
	hs := limits.HTTPServer(srv.Handler())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("tenancyd: %v", err)
		}
	}()
	go srv.Run(ctx)
	t.Cleanup(func() {
		cancel()
		shutdown, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		_ = hs.Shutdown(shutdown)
		<-done
		_ = data.Close()
		_ = st.Close()
	})

	url := "http://" + ln.Addr().String()
	c, err := client.New(client.Config{Endpoint: url, Token: token, MaxRetries: 2, RequestTimeout: 30 * time.Second, UserAgent: "acctest"})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return &Server{URL: url, Token: token, Store: st, Data: data, Client: c, SecretKey: key}
}

// ProviderConfig is a provider block pointing at this server; tests prepend
// it to their configuration, since each test has a server of its own.
func (s *Server) ProviderConfig() string {
	return fmt.Sprintf(`
provider "tenancy" {
  endpoint    = %q
  token       = %q
  max_retries = 2
}
`, s.URL, s.Token)
}

// Config is the provider block followed by the given configuration.
func (s *Server) Config(hcl string) string { return s.ProviderConfig() + hcl }

// RandomSuffix is eight random hex digits, for names unique to one test.
func RandomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RandomSlug is a tenant slug unique to one test, starting with prefix.
func RandomSlug(prefix string) string { return prefix + "-" + RandomSuffix() }

// testWriter sends the server's warnings to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// ClientAs mints a token from req with the platform-admin token and returns
// a client that uses it, and the token: how a test makes a change as
// someone other than Terraform, whom a drift warning must then name.
func (s *Server) ClientAs(t testing.TB, req api.TokenRequest) (*client.Client, *api.Token) {
	t.Helper()
	tok, err := s.Client.CreateToken(t.Context(), req)
	if err != nil {
		t.Fatalf("minting token %q: %v", req.Name, err)
	}
	c, err := client.New(client.Config{Endpoint: s.URL, Token: tok.Token})
	if err != nil {
		t.Fatal(err)
	}
	return c, tok
}
