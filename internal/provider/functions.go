package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/validate"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validators"
)

var (
	_ function.Function = (*environmentIDFunction)(nil)
	_ function.Function = (*parseIDFunction)(nil)
)

// environmentIDFunction builds an environment's ID, "tenant/environment",
// the form tenancy_environment imports and other resources refer to.
type environmentIDFunction struct{}

func newEnvironmentIDFunction() function.Function { return &environmentIDFunction{} }

func (f *environmentIDFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "environment_id"
}

func (f *environmentIDFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "Builds the ID of an environment from its tenant and name",
		MarkdownDescription: "Returns `\"<tenant>/<environment>\"`, the ID of a `tenancy_environment` and its import ID, " +
			"such as `\"acme/staging\"` for `environment_id(\"acme\", \"staging\")`. Both arguments are checked: " +
			"the tenant must be a slug (" + validate.SlugRule + ") and the environment a name (" + validate.NameRule + ").",
		Parameters: []function.Parameter{
			function.StringParameter{
				Name:                "tenant",
				MarkdownDescription: "The tenant's slug (its ID), such as `acme`.",
				Validators:          []function.StringParameterValidator{validators.Slug()},
			},
			function.StringParameter{
				Name:                "environment",
				MarkdownDescription: "The environment's name, such as `staging`.",
				Validators:          []function.StringParameterValidator{validators.EnvironmentName()},
			},
		},
		Return: function.StringReturn{},
	}
}

func (f *environmentIDFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	var tenant, environment string
	resp.Error = function.ConcatFuncErrors(req.Arguments.Get(ctx, &tenant, &environment))
	if resp.Error != nil {
		return
	}
	resp.Error = function.ConcatFuncErrors(resp.Result.Set(ctx, formatID(tenant, environment)))
}

// parseIDFunction takes any of the provider's IDs apart.
type parseIDFunction struct{}

func newParseIDFunction() function.Function { return &parseIDFunction{} }

// parsedIDTypes is the object parse_id returns.
var parsedIDTypes = map[string]attr.Type{
	"tenant": types.StringType,
	"rest":   types.ListType{ElemType: types.StringType},
	"parts":  types.ListType{ElemType: types.StringType},
}

// idFormats are the shapes of every ID the provider uses, for parseID.
var idFormats = []string{"tenant", "tenant/environment", "tenant/source/target"}

func (f *parseIDFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "parse_id"
}

func (f *parseIDFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "Takes a tenancy ID apart into its tenant and the rest",
		MarkdownDescription: "Parses any ID of this provider, the `id` of a resource and its import ID: `acme` (a tenant, " +
			"or its tenant-wide quota), `acme/staging` (an environment, a flag, an integration, a user or role binding by " +
			"its generated id, an environment's quota) or `acme/staging/production` (a promotion). It returns an object:\n\n" +
			"- `tenant`: the tenant's slug, such as `\"acme\"`, what children take as `tenant_id`;\n" +
			"- `rest`: the parts after the tenant, such as `[\"staging\", \"production\"]`; empty for a tenant's own ID;\n" +
			"- `parts`: every part, the tenant first, such as `[\"acme\", \"staging\", \"production\"]`.\n\n" +
			"So `provider::tenancy::parse_id(tenancy_environment.staging.id).rest[0]` is the environment's name. " +
			"An ID with an empty part, spaces around a part, more than three parts or a tenant that is not a slug " +
			"is an error that shows the accepted forms.",
		Parameters: []function.Parameter{
			function.StringParameter{
				Name:                "id",
				MarkdownDescription: "An ID of this provider, such as `acme/staging`.",
			},
		},
		Return: function.ObjectReturn{AttributeTypes: parsedIDTypes},
	}
}

func (f *parseIDFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	var id string
	resp.Error = function.ConcatFuncErrors(req.Arguments.Get(ctx, &id))
	if resp.Error != nil {
		return
	}
	parts, err := parseID(id, idFormats...)
	if err != nil {
		// The parser speaks of import IDs; here any ID is parsed.
		resp.Error = function.NewArgumentFuncError(0, strings.Replace(err.Error(), "import ID", "ID", 1))
		return
	}
	if err := validate.Slug(parts[0]); err != nil {
		resp.Error = function.NewArgumentFuncError(0, fmt.Sprintf("the tenant part of ID %q: %v", id, err))
		return
	}
	all, diags := types.ListValueFrom(ctx, types.StringType, parts)
	rest, more := types.ListValueFrom(ctx, types.StringType, parts[1:])
	diags.Append(more...)
	obj, objDiags := types.ObjectValue(parsedIDTypes, map[string]attr.Value{
		"tenant": types.StringValue(parts[0]), "rest": rest, "parts": all,
	})
	diags.Append(objDiags...)
	if diags.HasError() {
		resp.Error = function.FuncErrorFromDiags(ctx, diags)
		return
	}
	resp.Error = function.ConcatFuncErrors(resp.Result.Set(ctx, obj))
}
