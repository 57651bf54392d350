package validators

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/validate"
)

func TestStringValidators(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		v              validator.String
		valid, invalid string
		summary        string
	}{
		{"Timezone", Timezone(), "Europe/Paris", "Europe/Pariss", "Invalid Time Zone"},
		{"Language", Language(), "en-GB", "en_GB", "Invalid Language Tag"},
		{"Hostname", Hostname(), "acme.example.com", "https://acme.example.com", "Invalid Hostname"},
		{"CIDR", CIDR(), "10.0.0.0/8", "10.0.0.1/8", "Invalid CIDR Prefix"},
		{"HTTPSURL", HTTPSURL(), "https://example.com/logo.png", "http://example.com/logo.png", "Invalid HTTPS URL"},
		{"HexColor", HexColor(), "#1A73E8", "#fff", "Invalid Colour"},
		{"Email", Email(), "alice@example.com", "Alice <alice@example.com>", "Invalid Email Address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			p := path.Root("branding").AtName("field")
			run := func(v types.String) validator.StringResponse {
				var resp validator.StringResponse
				tc.v.ValidateString(ctx, validator.StringRequest{Path: p, ConfigValue: v}, &resp)
				return resp
			}
			for name, v := range map[string]types.String{
				"valid":   types.StringValue(tc.valid),
				"null":    types.StringNull(),
				"unknown": types.StringUnknown(),
			} {
				if resp := run(v); resp.Diagnostics.HasError() {
					t.Errorf("%s value: unexpected diagnostics %v", name, resp.Diagnostics)
				}
			}
			resp := run(types.StringValue(tc.invalid))
			if len(resp.Diagnostics) != 1 {
				t.Fatalf("invalid value %q: want one diagnostic, got %v", tc.invalid, resp.Diagnostics)
			}
			d := resp.Diagnostics[0]
			if d.Summary() != tc.summary || !strings.Contains(d.Detail(), "Attribute branding.field: ") ||
				!strings.Contains(d.Detail(), `"`+tc.invalid+`" is not`) {
				t.Errorf("invalid value %q: got %q / %q", tc.invalid, d.Summary(), d.Detail())
			}
			if md := tc.v.MarkdownDescription(ctx); !strings.HasPrefix(md, "value must be") || tc.v.Description(ctx) != strings.ReplaceAll(md, "`", "") {
				t.Errorf("descriptions: %q / %q", tc.v.Description(ctx), md)
			}
		})
	}
}

func TestLabelsMap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	labels := func(m map[string]attr.Value) types.Map { return types.MapValueMust(types.StringType, m) }
	for _, tc := range []struct {
		name  string
		value types.Map
		want  []string // Details of the expected diagnostics, in order.
	}{
		{"valid", labels(map[string]attr.Value{"team": types.StringValue("Platform"), "cost-center": types.StringValue("")}), nil},
		{"null map", types.MapNull(types.StringType), nil},
		{"unknown map", types.MapUnknown(types.StringType), nil},
		{"unknown and null values", labels(map[string]attr.Value{"team": types.StringUnknown(), "owner": types.StringNull()}), nil},
		{"invalid key and value", labels(map[string]attr.Value{
			"Team":  types.StringValue("ok"),
			"owner": types.StringValue("a\x00b"),
		}), []string{
			`Attribute labels has an invalid key: "Team" is not a label key: it contains "T"`,
			`Attribute labels, label "owner": "a\x00b" is not a label value: it contains "\x00"`,
		}},
		{"invalid key of unknown value", labels(map[string]attr.Value{"-team": types.StringUnknown()}), []string{
			`Attribute labels has an invalid key: "-team" is not a label key: it starts with "-"`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var resp validator.MapResponse
			LabelsMap().ValidateMap(ctx, validator.MapRequest{Path: path.Root("labels"), ConfigValue: tc.value}, &resp)
			if len(resp.Diagnostics) != len(tc.want) {
				t.Fatalf("want %d diagnostics, got %v", len(tc.want), resp.Diagnostics)
			}
			for i, d := range resp.Diagnostics {
				if !strings.HasPrefix(d.Detail(), tc.want[i]) {
					t.Errorf("diagnostic %d: got %q, want it to start with %q", i, d.Detail(), tc.want[i])
				}
				if dp, ok := d.(diag.DiagnosticWithPath); !ok || !strings.HasPrefix(dp.Path().String(), `labels["`) {
					t.Errorf("diagnostic %d: want it on the label's path, got %v", i, d)
				}
			}
		})
	}
	if d := LabelsMap().Description(ctx); !strings.HasPrefix(d, "keys must be 1 to 63 characters") {
		t.Errorf("Description = %q", d)
	}
}

// TestIdentifiers checks every identifier validator, on an attribute and on a
// function's parameter: valid, null and unknown values pass; an invalid one
// gets one refusal that says what the value must be, by the rule of
// internal/validate, and what it was.
func TestIdentifiers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		v              Identifier
		valid, invalid string
		want           string
	}{
		{"Slug", Slug(), "acme-eu", "Acme", "must be a tenant slug: " + validate.SlugRule},
		{"EnvironmentName", EnvironmentName(), "staging", "Staging Env", "must be an environment name: " + validate.NameRule},
		{"Name", Name("a feature flag key"), "new-billing", "new billing", "must be a feature flag key: " + validate.NameRule},
		{"LabelKey", LabelKey("a settings key"), "db.pool_size", "Log Level", "must be a settings key: " + validate.LabelKeyRule},
		{"MigrationVersion", MigrationVersion(), "10", "010", "must be a migration version: " + validate.MigrationVersionRule},
		{"BackupID", BackupID(), "bkp_0123abcd", "backup-1", "must be a backup id: " + validate.BackupIDRule},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			p := path.Root("field")
			run := func(v types.String) validator.StringResponse {
				var resp validator.StringResponse
				tc.v.ValidateString(ctx, validator.StringRequest{Path: p, ConfigValue: v}, &resp)
				return resp
			}
			param := func(v types.String) *function.FuncError {
				var resp function.StringParameterValidatorResponse
				tc.v.ValidateParameterString(ctx, function.StringParameterValidatorRequest{ArgumentPosition: 1, Value: v}, &resp)
				return resp.Error
			}
			for name, v := range map[string]types.String{
				"valid":   types.StringValue(tc.valid),
				"null":    types.StringNull(),
				"unknown": types.StringUnknown(),
			} {
				if resp := run(v); resp.Diagnostics.HasError() {
					t.Errorf("%s value: unexpected diagnostics %v", name, resp.Diagnostics)
				}
				if err := param(v); err != nil {
					t.Errorf("%s parameter: unexpected error %v", name, err)
				}
			}
			resp := run(types.StringValue(tc.invalid))
			want := "Attribute field " + tc.want + `, got: "` + tc.invalid + `"`
			if len(resp.Diagnostics) != 1 || resp.Diagnostics[0].Detail() != want || !strings.HasPrefix(resp.Diagnostics[0].Summary(), "Invalid ") {
				t.Errorf("invalid value %q: got %v; want one diagnostic %q", tc.invalid, resp.Diagnostics, want)
			}
			if err := param(types.StringValue(tc.invalid)); err == nil || !strings.Contains(err.Text, tc.want+`, got: "`+tc.invalid+`"`) {
				t.Errorf("invalid parameter %q: got %v; want it to say %q", tc.invalid, err, tc.want)
			}
			if md := tc.v.MarkdownDescription(ctx); md != "value "+tc.want || tc.v.Description(ctx) != strings.ReplaceAll(md, "`", "") {
				t.Errorf("descriptions: %q / %q", tc.v.Description(ctx), md)
			}
		})
	}
}

func TestNotBlank(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for value, ok := range map[string]bool{"CREATE TABLE t (id int)": true, " \n\t": false, "": false} {
		var resp validator.StringResponse
		NotBlank("SQL").ValidateString(ctx, validator.StringRequest{Path: path.Root("sql"), ConfigValue: types.StringValue(value)}, &resp)
		if resp.Diagnostics.HasError() == ok {
			t.Errorf("%q: diagnostics %v; want an error: %t", value, resp.Diagnostics, !ok)
		}
		if !ok && !strings.Contains(resp.Diagnostics[0].Detail(), "Attribute sql must hold SQL") {
			t.Errorf("%q: %q does not say what the value must hold", value, resp.Diagnostics[0].Detail())
		}
	}
}
