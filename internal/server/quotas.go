package server

import (
	"context"
	"errors"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

// tenantQuotaKey is the store key of a tenant's tenant-wide quota; an
// environment's quota is stored under the environment's name, which can
// never start with "@".
const tenantQuotaKey = "@tenant"

// quotaRoutes lists this area's routes; it is filled in as the area is built.
func (s *Server) quotaRoutes() []route { return nil }

// tenantQuota reads a tenant's tenant-wide quota; nil when it has none.
func tenantQuota(ctx context.Context, tx store.Tx, tenant string) (*api.Quota, error) {
	o, err := tx.Get(ctx, tenant, store.KindQuota, tenantQuotaKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	q, err := fromObject[api.Quota](o)
	return &q, err
}
