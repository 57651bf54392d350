// Package pgtest gives a test a fresh PostgreSQL database of its own, on the
// server that TENANCY_TEST_POSTGRES_URL names (scripts/with-postgres.sh starts
// a throwaway one and sets it).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables that URL reads.
const (
	// EnvURL names a server on which tests may CREATE DATABASE, for example
	// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
	EnvURL = "TENANCY_TEST_POSTGRES_URL"
	// EnvMode set to "require" turns a missing EnvURL from a skip into a failure.
	EnvMode = "TENANCY_TEST_POSTGRES"
)

const howTo = "run the tests under scripts/with-postgres.sh (it starts a throwaway PostgreSQL), " +
	"or set " + EnvURL + " to a PostgreSQL server where the tests may CREATE DATABASE"

// URL creates an empty database with a unique name and returns its URL; the
// database is dropped when the test ends. When EnvURL is unset the test is
// skipped, or fails if EnvMode is "require".
func URL(t testing.TB) string {
	t.Helper()
	server := os.Getenv(EnvURL)
	if server == "" {
		if os.Getenv(EnvMode) == "require" {
			t.Fatalf("PostgreSQL is required (%s=require) but %s is unset: %s", EnvMode, EnvURL, howTo)
		}
		t.Skipf("skipping PostgreSQL test: %s is unset; %s", EnvURL, howTo)
	}
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", EnvURL, err)
	}

	var suffix [8]byte
	_, _ = rand.Read(suffix[:]) // never fails, per its documentation
	name := "tenancy_test_" + hex.EncodeToString(suffix[:])
	ident := pgx.Identifier{name}.Sanitize()

	ctx := t.Context()
	exec(ctx, t, server, "CREATE DATABASE "+ident)
	t.Cleanup(func() {
		// t.Context is canceled by now; dropping still deserves a moment.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		// FORCE ends sessions the test left open (PostgreSQL 13 or newer).
		exec(ctx, t, server, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
	})

	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// exec runs one statement on a connection of its own to the server.
func exec(ctx context.Context, t testing.TB, server, statement string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", EnvURL, err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, statement); err != nil {
		t.Fatalf("pgtest: %s: %v", statement, err)
	}
}
