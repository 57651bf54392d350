// Package validators holds the terraform-plugin-framework validators that
// terraform-plugin-framework-validators does not offer. Each one delegates to
// internal/validate, so the provider refuses at plan time exactly what tenancyd
// would refuse at apply time, and says so in one voice: identifiers (Slug,
// Name, LabelKey, MigrationVersion, BackupID) as "must be <what>: <rule>",
// free-form values as what internal/validate says of them. For enumerations,
// lengths and ranges use stringvalidator.OneOf, stringvalidator.LengthBetween
// and int64validator.Between instead.
package validators

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/validate"
)

// Timezone accepts an IANA time zone name; see validate.Timezone.
func Timezone() validator.String {
	return stringCheck{"Time Zone", "value must be an IANA time zone name, such as `Europe/Paris` or `UTC`", validate.Timezone}
}

// Language accepts a BCP 47 language tag in canonical form; see validate.Language.
func Language() validator.String {
	return stringCheck{"Language Tag", "value must be a BCP 47 language tag in canonical form, such as `en`, `en-GB` or `zh-Hant-TW`", validate.Language}
}

// Hostname accepts a lower-case DNS host name of two labels or more; see
// validate.Hostname.
func Hostname() validator.String {
	return stringCheck{"Hostname", "value must be a lower-case DNS host name with at least two labels, such as `app.example.com`, " +
		"without scheme, port, path or trailing dot", validate.Hostname}
}

// CIDR accepts an IPv4 or IPv6 prefix in canonical form; see validate.CIDR.
func CIDR() validator.String {
	return stringCheck{"CIDR Prefix", "value must be an IPv4 or IPv6 network in canonical CIDR notation, such as `10.0.0.0/8` or `2001:db8::/32`", validate.CIDR}
}

// HTTPSURL accepts an absolute https:// URL; see validate.HTTPSURL.
func HTTPSURL() validator.String {
	return stringCheck{"HTTPS URL", fmt.Sprintf("value must be an absolute `https://` URL with a host and no user information, "+
		"at most %d characters", validate.MaxURLLength), validate.HTTPSURL}
}

// HexColor accepts a colour written #RRGGBB in upper- or lower-case
// hexadecimal; see validate.HexColor.
func HexColor() validator.String {
	return stringCheck{"Colour", "value must be a colour written `#RRGGBB` in hexadecimal (upper or lower case), such as `#1a73e8`", validate.HexColor}
}

// Email accepts a plain e-mail address without display name; see validate.Email.
func Email() validator.String {
	return stringCheck{"Email Address", "value must be a plain e-mail address without display name, such as `alice@example.com`", validate.Email}
}

// stringCheck turns a validate function into a validator.String; thing names
// what is checked in the diagnostic summary, markdown says what is allowed.
type stringCheck struct {
	thing, markdown string
	check           func(string) error
}

func (v stringCheck) Description(context.Context) string { return plain(v.markdown) }

func (v stringCheck) MarkdownDescription(context.Context) string { return v.markdown }

func (v stringCheck) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := v.check(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+v.thing, fmt.Sprintf("Attribute %s: %s.", req.Path, err))
	}
}

// LabelsMap checks each key of a map of strings with validate.LabelKey and each
// known, non-null value with validate.LabelValue.
func LabelsMap() validator.Map { return labelsMap{} }

type labelsMap struct{}

func (labelsMap) Description(ctx context.Context) string {
	return plain(labelsMap{}.MarkdownDescription(ctx))
}

func (labelsMap) MarkdownDescription(context.Context) string {
	return fmt.Sprintf("keys must be %s; values must be at most %d printable characters", validate.LabelKeyRule, validate.MaxLabelValueLength)
}

func (labelsMap) ValidateMap(ctx context.Context, req validator.MapRequest, resp *validator.MapResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	elems := req.ConfigValue.Elements()
	for _, k := range slices.Sorted(maps.Keys(elems)) { // Sorted, so diagnostics come in a stable order.
		p := req.Path.AtMapKey(k)
		if err := validate.LabelKey(k); err != nil {
			resp.Diagnostics.AddAttributeError(p, "Invalid Label Key", fmt.Sprintf("Attribute %s has an invalid key: %s.", req.Path, err))
		}
		sv, ok := elems[k].(basetypes.StringValuable)
		if !ok {
			resp.Diagnostics.AddAttributeError(p, "Invalid Validator Usage",
				fmt.Sprintf("LabelsMap validates a map of strings, but %s holds %T. This is a bug in the provider.", req.Path, elems[k]))
			return
		}
		s, diags := sv.ToStringValue(ctx)
		resp.Diagnostics.Append(diags...)
		if s.IsNull() || s.IsUnknown() {
			continue
		}
		if err := validate.LabelValue(s.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(p, "Invalid Label Value", fmt.Sprintf("Attribute %s, label %q: %s.", req.Path, k, err))
		}
	}
}

// plain drops the Markdown code marks of a description.
func plain(markdown string) string { return strings.ReplaceAll(markdown, "`", "") }

// Slug accepts a tenant slug (validate.SlugPattern).
func Slug() Identifier {
	return Identifier{"Tenant Slug", "a tenant slug", validate.SlugRule, validate.SlugRegexp}
}

// EnvironmentName accepts an environment's name (validate.NamePattern).
func EnvironmentName() Identifier { return Name("an environment name") }

// Name accepts a name of the rule environments, feature flag keys,
// integrations and their config keys share (validate.NamePattern); what says
// which it is, such as "a feature flag key".
func Name(what string) Identifier {
	return Identifier{"Name", what, validate.NameRule, validate.NameRegexp}
}

// LabelKey accepts a key of the rule labels and settings share
// (validate.LabelKeyPattern); what says which it is, such as "a settings key".
func LabelKey(what string) Identifier {
	return Identifier{"Key", what, validate.LabelKeyRule, validate.LabelKeyRegexp}
}

// MigrationVersion accepts a migration version (validate.MigrationVersionPattern).
func MigrationVersion() Identifier {
	return Identifier{"Migration Version", "a migration version", validate.MigrationVersionRule, validate.MigrationVersionRegexp}
}

// BackupID accepts a backup's id (validate.BackupIDPattern).
func BackupID() Identifier {
	return Identifier{"Backup ID", "a backup id", validate.BackupIDRule, validate.BackupIDRegexp}
}

// Identifier checks a string attribute, or a function's string parameter,
// against one of the identifier rules of internal/validate; every refusal
// reads "must be <what>: <rule>".
type Identifier struct {
	thing, what, rule string
	re                *regexp.Regexp
}

var (
	_ validator.String                  = Identifier{}
	_ function.StringParameterValidator = Identifier{}
)

func (v Identifier) Description(ctx context.Context) string { return plain(v.MarkdownDescription(ctx)) }

func (v Identifier) MarkdownDescription(context.Context) string {
	return "value must be " + v.what + ": " + v.rule
}

func (v Identifier) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() || v.re.MatchString(req.ConfigValue.ValueString()) {
		return
	}
	resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+v.thing,
		fmt.Sprintf("Attribute %s must be %s: %s, got: %s", req.Path, v.what, v.rule, strconv.Quote(req.ConfigValue.ValueString())))
}

func (v Identifier) ValidateParameterString(_ context.Context, req function.StringParameterValidatorRequest, resp *function.StringParameterValidatorResponse) {
	if req.Value.IsNull() || req.Value.IsUnknown() || v.re.MatchString(req.Value.ValueString()) {
		return
	}
	resp.Error = function.NewArgumentFuncError(req.ArgumentPosition,
		fmt.Sprintf("Invalid %s: the value must be %s: %s, got: %s", v.thing, v.what, v.rule, strconv.Quote(req.Value.ValueString())))
}

// NotBlank accepts text with something other than white space; what says
// what the text holds, such as "SQL".
func NotBlank(what string) validator.String { return notBlank{what} }

type notBlank struct{ what string }

func (v notBlank) Description(ctx context.Context) string { return v.MarkdownDescription(ctx) }

func (v notBlank) MarkdownDescription(context.Context) string {
	return "value must hold " + v.what + ", not only white space"
}

func (v notBlank) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() || strings.TrimSpace(req.ConfigValue.ValueString()) != "" {
		return
	}
	resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+v.what, fmt.Sprintf("Attribute %s must hold %s, not only white space", req.Path, v.what))
}
