package store

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// TestStatementCache checks that SQLite's queries are prepared once, after
// the transaction that first ran them, and then reused by transactions on
// every connection of the pool; and that a query first seen inside a write
// transaction (on the single writer connection) does not wait for itself.
func TestStatementCache(t *testing.T) {
	st, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := st.(*sqlStore) //nolint:forcetypeassert // OpenSQLite returns a *sqlStore.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	put := func(key string) error {
		return s.Update(ctx, func(ctx context.Context, tx Tx) error {
			_, err := tx.Create(ctx, Object{Tenant: "acme", Kind: api.KindFeatureFlag, Key: key, Data: []byte(`{}`)})
			return err
		})
	}
	if err := put("a"); err != nil {
		t.Fatalf("first write: %v", err)
	}
	if n := len(s.writeStmts.stmts); n == 0 {
		t.Fatal("the writer's query was not prepared after its transaction")
	}
	if err := put("b"); err != nil {
		t.Fatalf("second write, prepared: %v", err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			errs <- s.View(ctx, func(ctx context.Context, tx Tx) error {
				o, err := tx.Get(ctx, "acme", api.KindFeatureFlag, "b")
				if err == nil && o.Revision != 1 {
					t.Errorf("read revision %d, want 1", o.Revision)
				}
				return err
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent reads: %v", err)
		}
	}
	if len(s.readStmts.stmts) == 0 {
		t.Error("the readers' query was not prepared")
	}
	if s.writeStmts.hasPending() || s.readStmts.hasPending() {
		t.Error("queries are still waiting to be prepared")
	}
}
