package provider

import (
	"context"
	"errors"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

// deleteRevision is the revision a Delete sends as If-Match: the one
// Terraform last read or wrote, so that an object changed since then (by
// hand, or swapped by a proxy) is never deleted unseen. 0, for state that
// predates private revisions, deletes unconditionally. Terraform hands
// Delete the state and private state that the last apply (or refresh-only
// apply) saved: a change made since then has to be accepted into the state
// before the object can be deleted.
//
// Environments, feature flags and quotas are deleted whatever their
// revision: promotions (and their rollback when a
// tenancy_environment_promotion is destroyed first, in the same run) write
// them on Terraform's behalf, so a revision check would refuse Terraform's
// own changes. What is deleted is still the object the state names: the
// client refuses answers about another one.
func deleteRevision(ctx context.Context, req resource.DeleteRequest, diags *diag.Diagnostics) int64 {
	rev, d := revisionFrom(ctx, req.Private)
	diags.Append(d...)
	return rev
}

// deleteFailed reports the error of a Delete, if any; every resource's
// Delete ends with it. An object that is already gone counts as deleted;
// one that changed since Terraform last read it gets the way forward. what
// names the object, such as `tenant "acme"`.
func deleteFailed(diags *diag.Diagnostics, what string, err error) {
	switch {
	case err == nil, errors.Is(err, client.ErrNotFound):
	case errors.Is(err, client.ErrPreconditionFailed):
		diags.AddError("Cannot delete "+what+": it changed since Terraform last read it",
			"Terraform deletes only an object as its state last recorded it, so it left "+what+" alone. "+
				"Run terraform plan to see what changed; to delete it as it is now, accept the change into the state "+
				"with terraform apply -refresh-only, then apply or destroy again.\n\n"+err.Error())
	default:
		addAPIError(diags, "Cannot delete "+what, err)
	}
}

// deleteObject is the whole Delete of a resource whose object is deleted
// at the revision Terraform last recorded (deleteRevision) by del.
func deleteObject[M any, PM interface {
	*M
	tenantObject
}](ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse,
	del func(ctx context.Context, tenant, key string, ifMatch int64) error,
) {
	var state M
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant, key := PM(&state).key()
	err := del(ctx, tenant, key, deleteRevision(ctx, req, &resp.Diagnostics))
	deleteFailed(&resp.Diagnostics, PM(&state).what(), err)
}
