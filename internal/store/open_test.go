package store_test

import (
	"sync"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

// openURL opens a store for the test and closes it when the test ends.
func openURL(t *testing.T, url string) store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	closeAtEnd(t, s)
	return s
}

// openTwiceAtOnce opens two stores on one database concurrently, as two
// replicas starting together do: one migrates while the other waits for it
// and then finds nothing left to do.
func openTwiceAtOnce(t *testing.T, url string) (store.Store, store.Store) {
	t.Helper()
	var (
		wg     sync.WaitGroup
		stores [2]store.Store
		errs   [2]error
	)
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = store.Open(t.Context(), url) })
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Fatalf("Open: %v", errs[i])
		}
		closeAtEnd(t, s)
	}
	return stores[0], stores[1]
}

func closeAtEnd(t *testing.T, s store.Store) {
	t.Helper()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}
