package store_test

import (
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store/pgtest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store/storetest"
)

func TestPostgres(t *testing.T) {
	t.Parallel()
	pgtest.URL(t) // skips or fails once here rather than in every subtest
	storetest.Run(t, func(t *testing.T) store.Store {
		return openURL(t, pgtest.URL(t))
	})
}

func TestPostgresReplicas(t *testing.T) {
	t.Parallel()
	pgtest.URL(t)
	storetest.RunReplicas(t, func(t *testing.T) (store.Store, store.Store) {
		return openTwiceAtOnce(t, pgtest.URL(t))
	})
}
