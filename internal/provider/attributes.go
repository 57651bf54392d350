package provider

import (
	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/validators"
)

// Attributes more than one resource or data source has, defined once.

// tenantIDAttribute is the tenant_id of an object that lives in one tenant
// for good: moving it to another tenant replaces it.
func tenantIDAttribute(what string) schema.StringAttribute {
	return schema.StringAttribute{
		Required: true,
		MarkdownDescription: "Slug of the tenant the " + what + " belongs to, usually `tenancy_tenant.NAME.id`. " +
			"Changing it replaces the " + what + ".",
		Validators:    []validator.String{validators.Slug()},
		PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
	}
}

// tenantIDDataSourceAttribute is the tenant a data source reads in.
func tenantIDDataSourceAttribute() dsschema.StringAttribute {
	return dsschema.StringAttribute{
		Required:            true,
		MarkdownDescription: "The tenant's ID (its slug), such as `acme`.",
		Validators:          []validator.String{validators.Slug()},
	}
}
