package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validate"
)

// integrationRoutes serves integrations: any role reads them, only
// tenant_admin writes them, since they carry credentials.
func (s *Server) integrationRoutes() []route {
	return []route{
		{"GET /v1/tenants/{tenant}/integrations", tenantViewer, s.listIntegrations},
		{"POST /v1/tenants/{tenant}/integrations", tenantAdmin, s.createIntegration},
		{"GET /v1/tenants/{tenant}/integrations/{name}", tenantViewer, s.getIntegration},
		{"PATCH /v1/tenants/{tenant}/integrations/{name}", tenantAdmin, s.patchIntegration},
		{"DELETE /v1/tenants/{tenant}/integrations/{name}", tenantAdmin, s.deleteIntegration},
	}
}

// storedIntegration is an integration as the store keeps it: with its
// write-only secret. It never leaves the server; answers are built with
// public, and code that reads integrations as api.Integration never sees the
// secret either. Neither the secret nor its length goes into an error
// message, a log line or an audit event.
type storedIntegration struct {
	api.Integration
	storedSecret
}

// public is the integration as the API shows it.
func (i storedIntegration) public() api.Integration {
	out := i.Integration
	out.SecretSet = i.set()
	return out
}

// spec is what a caller wrote of the integration, its secret decrypted.
func (s *Server) integrationSpec(i storedIntegration) (api.IntegrationSpec, error) {
	secret, err := s.secrets.open(i.storedSecret)
	return api.IntegrationSpec{Name: i.Name, Kind: i.Kind, Config: i.Config, Secret: secret}, err
}

func integrationWhat(tenant, name string) string {
	return fmt.Sprintf("integration %q of tenant %q", name, tenant)
}

func loadIntegration(ctx context.Context, tx store.Tx, tenant, name string) (storedIntegration, error) {
	return getChild[storedIntegration](ctx, tx, tenant, api.KindIntegration, name, fmt.Sprintf("integration %q", name))
}

// checkIntegrationSpec validates what a caller may write, naming the field
// at fault: config keys are names, values are bounded, each kind has the
// keys it needs, and URLs are https.
func checkIntegrationSpec(i api.IntegrationSpec) error {
	if err := validate.Name(i.Name); err != nil {
		return invalidField("name", err)
	}
	if err := validate.OneOf(i.Kind, api.IntegrationKinds); err != nil {
		return invalidField("kind", err)
	}
	if n := len(i.Config); n > api.MaxIntegrationConfigKeys {
		return errInvalid("config", "config has %d keys; at most %d are allowed", n, api.MaxIntegrationConfigKeys)
	}
	for _, k := range slices.Sorted(maps.Keys(i.Config)) {
		if err := validate.Name(k); err != nil {
			return errInvalid("config", "config: key %s", err.Error())
		}
		v := i.Config[k]
		if len(v) > api.MaxIntegrationConfigValueLength {
			return errInvalid("config."+k, "config.%s is %d bytes long; at most %d are allowed", k, len(v), api.MaxIntegrationConfigValueLength)
		}
		if k == "url" || strings.HasSuffix(k, "_url") {
			if err := validate.HTTPSURL(v); err != nil {
				return invalidField("config."+k, err)
			}
		}
	}
	for _, k := range api.IntegrationRequiredConfig[i.Kind] {
		if strings.TrimSpace(i.Config[k]) == "" {
			return errInvalid("config."+k, "config.%s is required when kind is %q, which needs %s",
				k, i.Kind, strings.Join(api.IntegrationRequiredConfig[i.Kind], ", "))
		}
	}
	if i.Secret != nil {
		switch n := len(*i.Secret); {
		case n == 0:
			return errInvalid("secret", "secret is empty; send a secret, or null to remove the stored one")
		case n > api.MaxIntegrationSecretLength:
			return errInvalid("secret", "secret is too long; at most %d bytes are allowed", api.MaxIntegrationSecretLength)
		}
	}
	return nil
}

// newIntegration decodes and checks an integration to create, its secret
// sealed for the store; the dry run and the create share it.
func (s *Server) newIntegration(ctx context.Context, tx store.Tx, tenant string, body []byte) (storedIntegration, error) {
	var spec api.IntegrationSpec
	if err := decodeStrict(body, &spec); err != nil {
		return storedIntegration{}, err
	}
	if err := checkIntegrationSpec(spec); err != nil {
		return storedIntegration{}, err
	}
	if _, err := loadTenant(ctx, tx, tenant); err != nil {
		return storedIntegration{}, err
	}
	if _, err := tx.Get(ctx, tenant, api.KindIntegration, spec.Name); err == nil {
		return storedIntegration{}, errConflict("name",
			"integration %q already exists in tenant %q; import it (terraform import tenancy_integration.NAME %s/%s) or choose another name",
			spec.Name, tenant, tenant, spec.Name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return storedIntegration{}, err
	}
	secret, err := s.secrets.seal(spec.Secret)
	return storedIntegration{
		Integration:  api.Integration{Name: spec.Name, Kind: spec.Kind, Config: spec.Config, TenantID: tenant, ID: tenant + "/" + spec.Name},
		storedSecret: secret,
	}, err
}

func (s *Server) createIntegration(w http.ResponseWriter, r *http.Request, p *principal) error {
	return createIn(s, w, r, p, creation[storedIntegration]{
		kind: api.KindIntegration, check: s.newIntegration,
		key: func(i storedIntegration) string { return i.Name },
		detail: func(i storedIntegration) string {
			if i.set() {
				return "kind " + i.Kind + ", with a secret"
			}
			return "kind " + i.Kind
		},
		answer: func(i storedIntegration) any { return i.public() },
	})
}

func (s *Server) getIntegration(w http.ResponseWriter, r *http.Request, _ *principal) error {
	return s.viewOne(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		i, err := loadIntegration(ctx, tx, r.PathValue("tenant"), r.PathValue("name"))
		out := i.public()
		return &out, err
	})
}

// listIntegrations lists a tenant's integrations in name order, without secrets.
func (s *Server) listIntegrations(w http.ResponseWriter, r *http.Request, _ *principal) error {
	after, size, err := page(r)
	if err != nil {
		return err
	}
	tenant := r.PathValue("tenant")
	return s.view(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		if _, err := loadTenant(ctx, tx, tenant); err != nil {
			return nil, err
		}
		stored, err := listPageOf[storedIntegration](ctx, tx, tenant, api.KindIntegration, after, size, nil)
		if err != nil {
			return nil, err
		}
		list := api.List[api.Integration]{Items: make([]api.Integration, 0, len(stored.Items)), NextPageToken: stored.NextPageToken}
		for _, i := range stored.Items {
			list.Items = append(list.Items, i.public())
		}
		return list, nil
	})
}

// patchIntegration applies a JSON merge patch (RFC 7396): "secret" sets a
// new secret and "secret": null removes the stored one; name and kind are
// immutable. A write seals the secret anew, so one stored before tenancyd
// had a key is sealed on the integration's next change.
func (s *Server) patchIntegration(w http.ResponseWriter, r *http.Request, p *principal) error {
	tenant, name := r.PathValue("tenant"), r.PathValue("name")
	// The specs as written, secrets in clear: what changes is decided on
	// them, since a secret sealed twice never looks the same.
	var prev, next api.IntegrationSpec
	return updateIn(s, w, r, p, update[storedIntegration]{
		tenant: tenant, kind: api.KindIntegration, key: name, what: integrationWhat(tenant, name),
		load: func(ctx context.Context, tx store.Tx) (storedIntegration, error) {
			return loadIntegration(ctx, tx, tenant, name)
		},
		apply: func(_ context.Context, _ store.Tx, cur storedIntegration, body []byte) (storedIntegration, error) {
			var err error
			if prev, err = s.integrationSpec(cur); err != nil {
				return cur, err
			}
			if next, err = applyMergePatch(prev, body); err != nil {
				return cur, err
			}
			switch {
			case next.Name != cur.Name:
				return cur, errInvalid("name", "name is immutable: %q cannot become %q; create a new integration instead", cur.Name, next.Name)
			case next.Kind != cur.Kind:
				return cur, errInvalid("kind", "kind is immutable: %q cannot become %q; create a new integration instead", cur.Kind, next.Kind)
			}
			if err := checkIntegrationSpec(next); err != nil {
				return cur, err
			}
			cur.Config = next.Config
			cur.storedSecret, err = s.secrets.seal(next.Secret)
			return cur, err
		},
		same:   func(storedIntegration, storedIntegration) bool { return integrationChanges(prev, next) == "" },
		detail: func(storedIntegration, storedIntegration, []byte) string { return integrationChanges(prev, next) },
		answer: func(i storedIntegration) any { return i.public() },
	})
}

func (s *Server) deleteIntegration(w http.ResponseWriter, r *http.Request, p *principal) error {
	tenant, name := r.PathValue("tenant"), r.PathValue("name")
	return deleteIn(s, w, r, p, deletion[storedIntegration]{
		tenant: tenant, kind: api.KindIntegration, key: name, what: integrationWhat(tenant, name),
		load: func(ctx context.Context, tx store.Tx) (storedIntegration, error) {
			return loadIntegration(ctx, tx, tenant, name)
		},
	})
}

// integrationChanges names, for the audit log, the config keys and whether
// the secret changed, never a value: "changed: config.url, secret". It is ""
// when nothing changes.
func integrationChanges(from, to api.IntegrationSpec) string {
	var changed []string
	if (from.Config == nil) != (to.Config == nil) && len(from.Config) == 0 && len(to.Config) == 0 {
		changed = append(changed, "config")
	}
	keys := slices.Sorted(maps.Keys(from.Config))
	for k := range to.Config {
		if _, ok := from.Config[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		old, had := from.Config[k]
		v, has := to.Config[k]
		if had != has || old != v {
			changed = append(changed, "config."+k)
		}
	}
	switch {
	case from.Secret != nil && to.Secret == nil:
		changed = append(changed, "secret (removed)")
	case to.Secret != nil && (from.Secret == nil || *from.Secret != *to.Secret):
		changed = append(changed, "secret")
	}
	if len(changed) == 0 {
		return ""
	}
	return "changed: " + strings.Join(changed, ", ")
}
