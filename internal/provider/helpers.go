package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

// stateSetter is the part of tfsdk.State that writes a whole model.
type stateSetter interface {
	Set(ctx context.Context, val any) diag.Diagnostics
}

// privateSetter and privateGetter are the framework's private state, kept
// with a resource's state but never shown in a plan.
type privateSetter interface {
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

type privateGetter interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

// privateRevision is the private-state key holding the object's revision,
// sent back as If-Match so that a write never overwrites a change it has not seen.
const privateRevision = "revision"

// updateOf is what an Update sends: the merge patch (RFC 7396) that turns
// the object as the state has it (from) into the object as the plan has it
// (to), and the revision Terraform recorded, for If-Match. ok is false when
// either cannot be had; what names the object in the error.
func updateOf(ctx context.Context, req resource.UpdateRequest, diags *diag.Diagnostics, what string, from, to any) (patch json.RawMessage, rev int64, ok bool) {
	patch, err := client.MergePatch(from, to)
	if err != nil {
		diags.AddError("Cannot compute the change to "+what, err.Error())
		return nil, 0, false
	}
	rev, d := revisionFrom(ctx, req.Private)
	diags.Append(d...)
	return patch, rev, !d.HasError()
}

// tenantObject is the model of a resource whose object is one of a
// tenant's, reached by the tenant and a key: what updateObject and
// deleteObject need of it.
type tenantObject interface {
	// key is the object's tenant and its key in the tenant.
	key() (tenant, key string)
	// what names the object in messages, such as `user "u-1" of tenant "acme"`.
	what() string
}

// updateObject is the whole Update of a resource whose object changes by a
// merge patch of its spec (the model's spec method) and nothing else: the
// patch from the state to the plan and the recorded revision (updateOf),
// sent with send, and the answer saved as the state with save, the
// resource's set<Type>State.
func updateObject[M any, PM interface {
	*M
	tenantObject
}, S, T any](ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse, spec func(*M) S,
	send func(ctx context.Context, tenant, key string, patch json.RawMessage, ifMatch int64) (*T, error),
	save func(context.Context, stateSetter, privateSetter, *T) diag.Diagnostics,
) {
	var plan, state M
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	what := PM(&state).what()
	patch, rev, ok := updateOf(ctx, req, &resp.Diagnostics, what, spec(&state), spec(&plan))
	if !ok {
		return
	}
	tenant, key := PM(&state).key()
	v, err := send(ctx, tenant, key, patch, rev)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot update "+what, err)
		return
	}
	resp.Diagnostics.Append(save(ctx, &resp.State, resp.Private, v)...)
}

// saveState stores m, made from what the platform answered, as the
// resource's state, and the object's revision as its private state: how
// every Create, Read, Update and import of an object with a revision ends,
// most of them through their set<Type>State.
func saveState(ctx context.Context, state stateSetter, private privateSetter, m any, rev int64) diag.Diagnostics {
	diags := state.Set(ctx, m)
	return append(diags, private.SetKey(ctx, privateRevision, []byte(strconv.FormatInt(rev, 10)))...)
}

// revisionFrom reads the revision Read last saw; 0 (no If-Match) when the
// state predates it.
func revisionFrom(ctx context.Context, p privateGetter) (int64, diag.Diagnostics) {
	b, diags := p.GetKey(ctx, privateRevision)
	if diags.HasError() || len(b) == 0 {
		return 0, diags
	}
	rev, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, diags
	}
	return rev, diags
}

// dataFrom takes the provider data from a Configure request; nil provider
// data means the provider is not configured yet, which the framework allows.
func dataFrom(data any, diags *diag.Diagnostics) *providerData {
	if data == nil {
		return nil
	}
	d, ok := data.(*providerData)
	if !ok {
		diags.AddError("Unexpected provider data",
			fmt.Sprintf("Expected *providerData, got %T. This is a bug in the provider; please report it.", data))
		return nil
	}
	return d
}

// clientFrom takes the API client from a Configure request; nil until the
// provider is configured.
func clientFrom(data any, diags *diag.Diagnostics) *client.Client {
	if d := dataFrom(data, diags); d != nil {
		return d.client
	}
	return nil
}

// addAPIError reports an API error, on the attribute it names when the
// server said which field was at fault.
func addAPIError(diags *diag.Diagnostics, summary string, err error) {
	var apiErr *client.APIError
	if errors.As(err, &apiErr) && apiErr.Field != "" {
		root, _, _ := strings.Cut(apiErr.Field, ".")
		root, _, _ = strings.Cut(root, "[")
		if root != "" && root == strings.ToLower(root) && !strings.ContainsAny(root, "- ") {
			diags.AddAttributeError(path.Root(root), summary, explainError(err))
			return
		}
	}
	diags.AddError(summary, explainError(err))
}

// explainError is an API error with what to do about the ones that are the
// provider's configuration's fault.
func explainError(err error) string {
	switch {
	case errors.Is(err, client.ErrUnauthenticated):
		return err.Error() + "\n\nThe platform refused the provider's token: set " + envToken +
			" (or token in the provider block) to a valid tenancyd API token."
	case errors.Is(err, client.ErrNoRoute):
		return err.Error() + "\n\nThe server has no such path: set endpoint (or " + envEndpoint +
			") to tenancyd's root URL, such as http://127.0.0.1:8480, without /v1."
	}
	return err.Error()
}

// quotedList renders allowed values for documentation: `a`, `b` or `c`.
func quotedList(values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = "`" + v + "`"
	}
	if len(quoted) < 2 {
		return strings.Join(quoted, "")
	}
	return strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
}

// readFailed handles a failed read of a resource's object in Read. Only an
// object that the provider's token could see and that is gone is removed
// from state, so the plan creates it again. Every other failure is an error
// and leaves the state alone: above all a 404 for a tenant the token may not
// see (client.ErrOutOfReach), which the platform answers exactly as for an
// object that does not exist, and a 404 for a path the server does not have
// (client.ErrNoRoute, a wrong endpoint); taking either for "gone" would plan
// to create everything again and empty the state on apply. It reports
// whether Read must stop. what names the object, such as `tenant "acme"`.
func readFailed(ctx context.Context, resp *resource.ReadResponse, what string, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, client.ErrNotFound):
		tflog.Warn(ctx, "the object no longer exists; removing it from state", map[string]any{"object": what})
		resp.State.RemoveResource(ctx)
	case errors.Is(err, client.ErrOutOfReach):
		resp.Diagnostics.AddError("Cannot read "+what+" with this token",
			err.Error()+".\n\nIt stays in the state, unchanged: configure the provider ("+envToken+
				" or token) with a token that can see it, and plan again.")
	default:
		addAPIError(&resp.Diagnostics, "Cannot read "+what, err)
	}
	return true
}

// dataReadFailed handles a failed read in a data source's Read, as
// readFailed does in a resource's, and reports whether Read must stop. A
// data source has no state to keep or drop, so whatever failed is an error:
// an object that is missing (what names it, such as `tenant "acme"`) on the
// attribute that named it, at; a tenant out of the token's reach with what
// to do about it; anything else as the platform answered. summary says
// what failed, such as `Cannot read tenant "acme"`.
func dataReadFailed(diags *diag.Diagnostics, summary string, at path.Path, what string, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, client.ErrNotFound):
		kind, _, _ := strings.Cut(what, " ")
		diags.AddAttributeError(at, upperFirst(kind)+" not found",
			"No "+what+" exists that this token may see. The platform answered: "+err.Error())
	case errors.Is(err, client.ErrOutOfReach):
		diags.AddError(summary+" with this token",
			err.Error()+".\n\nConfigure the provider ("+envToken+" or token) with a token that can see it, and plan again.")
	default:
		addAPIError(diags, summary, err)
	}
	return true
}

// withCreateHint adds to a plan-time "not found" what to do when the
// tenant or environment is in the configuration: refer to it, so that
// Terraform creates it first (and the plan knows it is new).
func withCreateHint(err error) error {
	if !errors.Is(err, client.ErrNotFound) {
		return err
	}
	return fmt.Errorf("%w\n\nIf this configuration creates it, refer to it (tenant_id = tenancy_tenant.NAME.id, "+
		"environment = tenancy_environment.NAME.name) so that Terraform creates it first", err)
}

// planCheck sorts the error of a plan-time dry run (a check the platform
// makes of what the apply will ask): whether the plan may go on without it
// (nil, or an answer that says nothing about the request), or must fail (an
// answer that refuses it, which the caller reports). creating says the
// tenant or environment is created in this run, so that its absence is
// expected. A dry run only lets the plan say early what the apply would
// say: when the platform cannot answer it (a network failure, a proxy's
// garbled answer; Configure already checked the endpoint), the apply will.
func planCheck(ctx context.Context, summary string, err error, creating bool) (goOn bool) {
	switch {
	case err == nil:
		return true
	case creating && (errors.Is(err, client.ErrNotFound) || errors.Is(err, client.ErrNoRoute)):
		tflog.Debug(ctx, "dry run: created in this run", map[string]any{"error": err.Error()})
		return true
	case errors.Is(err, client.ErrInvalid), errors.Is(err, client.ErrConflict), errors.Is(err, client.ErrPermissionDenied),
		errors.Is(err, client.ErrNotFound), errors.Is(err, client.ErrOutOfReach), errors.Is(err, client.ErrUnauthenticated),
		errors.Is(err, client.ErrPreconditionFailed):
		return false
	default:
		tflog.Warn(ctx, "the platform could not check this at plan time; the apply will", map[string]any{"check": summary, "error": err.Error()})
		return true
	}
}
