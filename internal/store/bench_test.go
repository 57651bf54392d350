package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store/pgtest"
)

// The store benchmarks run every operation the API's hot paths use on both
// databases: `make bench` runs them under scripts/with-postgres.sh, so the
// PostgreSQL ones run there and skip elsewhere.

func benchStores(b *testing.B, fn func(b *testing.B, s store.Store)) {
	b.Run("sqlite", func(b *testing.B) {
		s, err := store.Open(b.Context(), "sqlite://"+filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		fn(b, s)
	})
	b.Run("postgres", func(b *testing.B) {
		s, err := store.Open(b.Context(), pgtest.URL(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		fn(b, s)
	})
}

var benchFlag = json.RawMessage(`{"key":"k","description":"A benchmark flag","environments":{"staging":{"enabled":true,"rollout_percentage":50}},"tenant_id":"acme","id":"acme/k"}`)

// seed stores n flags of tenant acme.
func seed(b *testing.B, s store.Store, n int) {
	b.Helper()
	err := s.Update(b.Context(), func(ctx context.Context, tx store.Tx) error {
		for i := range n {
			if _, err := tx.Create(ctx, store.Object{Tenant: "acme", Kind: api.KindFeatureFlag, Key: fmt.Sprintf("flag-%04d", i), Data: benchFlag}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStoreGet is one read-only transaction reading one object.
func BenchmarkStoreGet(b *testing.B) { benchGet(b, store.Store.View) }

// BenchmarkStoreRead is the same read through Read, as a GET of one object
// makes it: one statement, outside a transaction.
func BenchmarkStoreRead(b *testing.B) { benchGet(b, store.Store.Read) }

func benchGet(b *testing.B, read func(store.Store, context.Context, func(context.Context, store.Tx) error) error) {
	benchStores(b, func(b *testing.B, s store.Store) {
		seed(b, s, 100)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			err := read(s, b.Context(), func(ctx context.Context, tx store.Tx) error {
				_, err := tx.Get(ctx, "acme", api.KindFeatureFlag, fmt.Sprintf("flag-%04d", i%100))
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkStoreGetParallel is the same read from ten goroutines at once,
// as Terraform's ten parallel refreshes make it.
func BenchmarkStoreGetParallel(b *testing.B) {
	benchStores(b, func(b *testing.B, s store.Store) {
		seed(b, s, 100)
		// Open the pool's connections before the clock runs: on PostgreSQL
		// each is a server process, and the first round would time their
		// start instead of the reads.
		var wg sync.WaitGroup
		for range 10 * runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				_ = s.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
					_, err := tx.Get(ctx, "acme", api.KindFeatureFlag, "flag-0000")
					return err
				})
			})
		}
		wg.Wait()
		b.ReportAllocs()
		b.SetParallelism(10)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				i++
				err := s.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
					_, err := tx.Get(ctx, "acme", api.KindFeatureFlag, fmt.Sprintf("flag-%04d", i%100))
					return err
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkStoreList reads a page of 500 of a tenant's 1000 objects.
func BenchmarkStoreList(b *testing.B) {
	benchStores(b, func(b *testing.B, s store.Store) {
		seed(b, s, 1000)
		b.ReportAllocs()
		for b.Loop() {
			err := s.View(b.Context(), func(ctx context.Context, tx store.Tx) error {
				objs, err := tx.List(ctx, store.ListQuery{Tenant: "acme", Kind: api.KindFeatureFlag, After: "flag-0250", Limit: 500})
				if err == nil && len(objs) != 500 {
					err = fmt.Errorf("listed %d objects, want 500", len(objs))
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkStorePut is one write transaction as a PATCH makes it: lock the
// tenant, read the object, replace it at its revision.
func BenchmarkStorePut(b *testing.B) {
	benchStores(b, func(b *testing.B, s store.Store) {
		seed(b, s, 1)
		b.ReportAllocs()
		for b.Loop() {
			err := s.Update(b.Context(), func(ctx context.Context, tx store.Tx) error {
				if err := tx.Lock(ctx, "tenant:acme"); err != nil {
					return err
				}
				o, err := tx.Get(ctx, "acme", api.KindFeatureFlag, "flag-0000")
				if err != nil {
					return err
				}
				_, err = tx.Put(ctx, o, o.Revision)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkStoreCreate is one write transaction creating an object.
func BenchmarkStoreCreate(b *testing.B) {
	benchStores(b, func(b *testing.B, s store.Store) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			err := s.Update(b.Context(), func(ctx context.Context, tx store.Tx) error {
				if err := tx.Lock(ctx, "tenant:acme"); err != nil {
					return err
				}
				_, err := tx.Create(ctx, store.Object{Tenant: "acme", Kind: api.KindFeatureFlag, Key: fmt.Sprintf("flag-%07d", i), Data: benchFlag})
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
