package store_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store/storetest"
)

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		return openURL(t, "sqlite://"+filepath.Join(t.TempDir(), "tenancy.db"))
	})
}

func TestSQLiteReplicas(t *testing.T) {
	t.Parallel()
	storetest.RunReplicas(t, func(t *testing.T) (store.Store, store.Store) {
		return openTwiceAtOnce(t, "sqlite://"+filepath.Join(t.TempDir(), "tenancy.db"))
	})
}

func TestSQLiteReopen(t *testing.T) {
	t.Parallel()
	// Odd characters in the path must not be taken for DSN options.
	path := filepath.Join(t.TempDir(), "a dir?x=1#frag", "tenancy%20.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(t.Context(), "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Create(ctx, store.Object{Tenant: "acme", Kind: api.KindTenant, Key: "acme", Data: json.RawMessage(`{}`)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file: %v", err)
	}

	// Reopening applies no migration twice and finds the data.
	s = openURL(t, "sqlite://"+path)
	err = s.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Get(ctx, "acme", api.KindTenant, "acme")
		return err
	})
	if err != nil {
		t.Fatalf("Get after reopening: %v", err)
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	for _, url := range []string{"", "tenancy.db", "sqlite://", "sqlite://:memory:", "mysql://u:secret@h/db"} {
		s, err := store.Open(t.Context(), url)
		if err == nil {
			_ = s.Close()
			t.Errorf("Open(%q): no error", url)
			continue
		}
		if url != "" && strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q): error %q shows the password", url, err)
		}
	}
}
