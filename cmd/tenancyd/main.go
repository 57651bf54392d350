// Command tenancyd is the tenancy platform's API server, the backend that
// terraform-provider-tenancy manages.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/server"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `tenancyd, the tenancy platform API server

Usage:
  tenancyd serve [flags]   serve the API
  tenancyd version         print the version

Run "tenancyd serve -h" for the flags of serve.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tenancyd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("missing command")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "tenancyd", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8480", "address to listen on (port 0 picks a free one)")
	database := fs.String("database", "sqlite://tenancy.db", "sqlite://PATH or postgres://USER:PASSWORD@HOST/DB")
	dataDatabase := fs.String("data-database", "", "postgres:// URL of the server for tenant data (default: the --database server when it is PostgreSQL)")
	dataDir := fs.String("data-dir", "", "directory of the tenants' SQLite data files (default: beside the --database SQLite file, such as tenancy-data/)")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (PEM); with --tls-key, serve HTTPS")
	tlsKey := fs.String("tls-key", "", "TLS private key file (PEM)")
	regions := fs.String("regions", strings.Join(api.DefaultRegions, ","), "comma-separated regions tenants may be placed in")
	provisioning := fs.Duration("provisioning-delay", 3*time.Second, "how long a new tenant takes to provision")
	idempotencyTTL := fs.Duration("idempotency-ttl", 24*time.Hour, "how long an Idempotency-Key's answer is kept for retries")
	addrFile := fs.String("addr-file", "", "write the address actually listened on to this file once listening")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	defaultRPM := fs.Int64("default-requests-per-minute", server.DefaultRequestsPerMinute,
		"api_requests_per_minute of a tenant whose quota sets none, across every replica; 0 leaves them unlimited")
	tenantConcurrency := fs.Int("max-tenant-concurrency", server.DefaultMaxTenantConcurrency,
		"requests one tenant may have in progress at once on this replica; 0 for no cap")
	limits := server.DefaultConnLimits()
	fs.DurationVar(&limits.ReadHeaderTimeout, "read-header-timeout", limits.ReadHeaderTimeout, "how long a client may take to send a request's headers")
	fs.DurationVar(&limits.ReadTimeout, "read-timeout", limits.ReadTimeout, "how long a client may take to send a whole request, body included")
	fs.DurationVar(&limits.WriteTimeout, "write-timeout", limits.WriteTimeout, "how long handling a request and writing its answer may take")
	fs.DurationVar(&limits.IdleTimeout, "idle-timeout", limits.IdleTimeout, "how long an idle keep-alive connection is kept open")
	fs.IntVar(&limits.MaxConnections, "max-connections", limits.MaxConnections, "connections served at once (more wait to be accepted); 0 for no cap")
	tokenCacheMaxAge := fs.Duration("token-cache-max-age", server.DefaultTokenCacheMaxAge,
		"how long an authenticated token is trusted without reading it again, revocations aside (they take effect at once); 0 reads it on every request")
	pprofListen := fs.String("pprof-listen", "", "serve Go's profiler (net/http/pprof) on this loopback address, such as 127.0.0.1:6060; off when empty")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: tenancyd serve [flags]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	// Help that was asked for goes to stdout and is no failure; help after
	// a wrong flag goes to stderr with the error.
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(stdout)
			fs.Usage()
			return nil
		}
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := limits.Check(); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if *tokenCacheMaxAge < 0 {
		return fmt.Errorf("serve: --token-cache-max-age %s: want 0 (no cache) or more", *tokenCacheMaxAge)
	}
	if *tokenCacheMaxAge == 0 {
		*tokenCacheMaxAge = -1 // server.Config: negative turns the cache off.
	}
	if *defaultRPM < 0 || *tenantConcurrency < 0 {
		return errors.New("serve: --default-requests-per-minute and --max-tenant-concurrency take 0 (no limit) or more")
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if *pprofListen != "" {
		if err := checkPprofAddr(*pprofListen); err != nil {
			return err
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", *logLevel)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	st, err := store.Open(ctx, *database)
	if err != nil {
		return err
	}
	defer st.Close()
	data, err := tenantdata.Open(ctx, *database, *dataDatabase, *dataDir)
	if err != nil {
		return fmt.Errorf("tenant data: %w", err)
	}
	defer data.Close()
	log.Info("tenant data", "engine", data.Engine(), "where", dataWhere(data))

	secret, err := server.Bootstrap(ctx, st, os.Getenv("TENANCY_BOOTSTRAP_TOKEN"))
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if secret != "" {
		fmt.Fprintf(stdout, "Created the first platform-admin token. It is shown only this once; keep it safe:\n\n    %s\n\n", secret)
	}

	var secretKey []byte
	if v := os.Getenv("TENANCYD_SECRET_KEY"); v != "" {
		if secretKey, err = server.ParseSecretKey(v); err != nil {
			return fmt.Errorf("TENANCYD_SECRET_KEY: %w", err)
		}
	} else {
		log.Warn("TENANCYD_SECRET_KEY is not set: integration secrets and backups are stored unencrypted; set it to 32 random bytes, base64-encoded")
	}
	srv, err := server.New(server.Config{
		Store: st, Regions: splitList(*regions), ProvisioningDelay: *provisioning, Logger: log,
		IdempotencyTTL: *idempotencyTTL, SecretKey: secretKey, Data: data,
		DefaultRequestsPerMinute: *defaultRPM, MaxTenantConcurrency: *tenantConcurrency,
		TokenCacheMaxAge: *tokenCacheMaxAge,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	// Capped before TLS, so that handshakes count against the cap too.
	ln = limits.Listener(ln)
	scheme := "http"
	hs := limits.HTTPServer(srv.Handler())
	if *tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return fmt.Errorf("TLS: %w", err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, hs.TLSConfig)
		scheme = "https"
	}
	addr := ln.Addr().String()
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(addr+"\n"), 0o600); err != nil {
			return err
		}
	}
	log.Info("tenancyd listening", "url", scheme+"://"+addr, "version", version)

	if *pprofListen != "" {
		pln, err := net.Listen("tcp", *pprofListen)
		if err != nil {
			return fmt.Errorf("--pprof-listen: %w", err)
		}
		defer pln.Close()
		go func() {
			if err := servePprof(pln); err != nil {
				log.Warn("profiler stopped", "error", err)
			}
		}()
		log.Info("profiler listening", "url", "http://"+pln.Addr().String()+"/debug/pprof/")
	}

	bg, cancel := context.WithCancel(ctx)
	defer cancel()
	go srv.Run(bg)

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, done := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer done()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return err
	}
	return nil
}

// dataWhere says where tenant data lives, for the log: never a password.
func dataWhere(p tenantdata.Plane) string {
	switch p := p.(type) {
	case *tenantdata.SQLite:
		return p.Dir()
	case *tenantdata.Postgres:
		return "PostgreSQL, names starting with " + p.Namespace() + "_"
	}
	return p.Engine()
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
