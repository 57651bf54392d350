package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

func TestParseSecretKey(t *testing.T) {
	t.Parallel()
	good := base64.StdEncoding.EncodeToString(make([]byte, 32))
	if _, err := ParseSecretKey(good); err != nil {
		t.Errorf("32 bytes refused: %v", err)
	}
	for _, bad := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(make([]byte, 16))} {
		if _, err := ParseSecretKey(bad); err == nil || !strings.Contains(err.Error(), "32 random bytes") {
			t.Errorf("ParseSecretKey(%q) = %v", bad, err)
		}
	}
}

// TestIntegrationSecretsAreEncryptedAtRest checks that with a key the store
// (and so a tenant's final backup) holds only ciphertext, that rotation and
// comparison still work, and that a secret stored before the key was set is
// still read.
func TestIntegrationSecretsAreEncryptedAtRest(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	key[0] = 7
	ts := newTestServer(t, func(c *Config) { c.SecretKey = key })
	ts.createTenant(t, "acme")
	const path = "/v1/tenants/acme/integrations"
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", path, map[string]any{
		"name": "hook", "kind": "webhook", "config": map[string]string{"url": "https://hooks.example.com/x"}, "secret": "s3cret-value",
	})
	stored := func() string {
		var data string
		err := ts.store.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
			o, err := tx.Get(ctx, "acme", api.KindIntegration, "hook")
			data = string(o.Data)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	first := stored()
	if strings.Contains(first, "s3cret-value") || !strings.Contains(first, `"sealed_secret":"`+sealedVersion) || strings.Contains(first, `"secret"`) {
		t.Fatalf("the store holds %s", first)
	}
	// Sending the same secret again changes nothing; another one rotates it.
	var i api.Integration
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", path+"/hook", `{"secret":"s3cret-value"}`).json(t, &i)
	if i.Revision != 1 || !i.SecretSet {
		t.Errorf("the same secret made revision %d", i.Revision)
	}
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", path+"/hook", `{"secret":"rotated"}`).json(t, &i)
	if i.Revision != 2 || strings.Contains(stored(), "rotated") {
		t.Errorf("rotation: revision %d, stored %s", i.Revision, stored())
	}
	box, err := newSecretBox(key)
	if err != nil {
		t.Fatal(err)
	}
	var si storedIntegration
	o := store.Object{Data: []byte(stored())}
	if si, err = fromObject[storedIntegration](o); err != nil {
		t.Fatal(err)
	}
	if plain, err := box.open(si.storedSecret); err != nil || *plain != "rotated" {
		t.Errorf("opened %v, %v", plain, err)
	}

	// A server without the key cannot use a sealed secret and says why.
	none, _ := newSecretBox(nil)
	if _, err := none.open(si.storedSecret); err == nil || !strings.Contains(err.Error(), "TENANCYD_SECRET_KEY") {
		t.Errorf("open without key: %v", err)
	}
	// A secret stored in clear before the key was set is read as it is.
	legacy := "plain-old"
	if plain, err := box.open(storedSecret{Plain: &legacy}); err != nil || *plain != legacy {
		t.Errorf("legacy secret: %v, %v", plain, err)
	}
}

// TestSecretsThatLookSealedRoundTrip stores secrets that look like what
// tenancyd writes when it seals one ("sealed:v1:...", "v1:..."), with and
// without a key: each is kept as sent, compares equal to itself (sending it
// again changes nothing), and the integration stays usable (a config
// change does not trip over the secret). Once, a user's "sealed:v1:..."
// secret was taken for a sealed one and broke its integration.
func TestSecretsThatLookSealedRoundTrip(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	key[3] = 9
	secrets := []string{"sealed:v1:", "sealed:v1:AAAA", "sealed:v1:not base64!", sealedVersion + "QUJD", "v2:x", "plain"}
	for name, k := range map[string][]byte{"without a key": nil, "with a key": key} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, func(c *Config) { c.SecretKey = k })
			ts.createTenant(t, "acme")
			box, err := newSecretBox(k)
			if err != nil {
				t.Fatal(err)
			}
			for i, secret := range secrets {
				name := fmt.Sprintf("hook-%d", i)
				path := "/v1/tenants/acme/integrations/" + name
				ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/integrations", map[string]any{
					"name": name, "kind": "webhook", "config": map[string]string{"url": "https://hooks.example.com/x"}, "secret": secret,
				})
				var got api.Integration
				ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", path, map[string]any{"secret": secret}).json(t, &got)
				if got.Revision != 1 {
					t.Errorf("secret %q: sending it again made revision %d; it did not compare equal to itself", secret, got.Revision)
				}
				ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", path, map[string]any{"config": map[string]string{"url": "https://hooks.example.com/y"}}).json(t, &got)
				if got.Revision != 2 || !got.SecretSet {
					t.Errorf("secret %q: a config change gave %+v", secret, got)
				}
				var stored storedIntegration
				err := ts.store.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
					o, err := tx.Get(ctx, "acme", api.KindIntegration, name)
					if err == nil {
						stored, err = fromObject[storedIntegration](o)
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if plain, err := box.open(stored.storedSecret); err != nil || plain == nil || *plain != secret {
					t.Errorf("secret %q came back as %v, %v", secret, plain, err)
				}
				if (k == nil) != (stored.Sealed == nil) {
					t.Errorf("secret %q stored as %+v; want it sealed exactly when there is a key", secret, stored.storedSecret)
				}
			}
		})
	}
}
