// Package requestctx wraps a terraform-plugin-framework protocol 6 server so
// that it keeps nothing of a request's context once the request is answered.
//
// The framework (proto6server.registerContext, through v1.19) keeps the
// cancel function of every request's context until StopProvider, which
// Terraform calls only when interrupted; each one holds the request's
// context and, through it, the loggers terraform-plugin-log puts there,
// about 12 KiB a request. With four requests a resource per operation a
// provider held some 500 MiB at 10000 resources. The requests of a wrapped
// server run on a context that answers like the request's while it is
// served and, once answered, like a finished one that holds nothing, so the
// framework keeps about 150 bytes a request instead.
package requestctx

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

// Wrap returns s, whose per-resource calls keep nothing of their context
// once answered.
func Wrap(s tfprotov6.ProviderServer) tfprotov6.ProviderServer {
	return &server{ProviderServer: s}
}

// server passes every call to the framework's server; the calls made once
// or more per resource run on a releasedContext. Calls that answer with a
// stream (ListResource, InvokeAction, state store reads) keep using their
// context after they return and are passed as they are.
type server struct {
	tfprotov6.ProviderServer
}

// call runs fn on a context that lets go of ctx once fn returns.
func call[Req, Resp any](ctx context.Context, fn func(context.Context, Req) (Resp, error), req Req) (Resp, error) {
	rc := &releasedContext{}
	rc.inner.Store(&ctx)
	defer rc.inner.Store(nil)
	return fn(rc, req)
}

func (s *server) ValidateResourceConfig(ctx context.Context, req *tfprotov6.ValidateResourceConfigRequest) (*tfprotov6.ValidateResourceConfigResponse, error) {
	return call(ctx, s.ProviderServer.ValidateResourceConfig, req)
}

func (s *server) UpgradeResourceState(ctx context.Context, req *tfprotov6.UpgradeResourceStateRequest) (*tfprotov6.UpgradeResourceStateResponse, error) {
	return call(ctx, s.ProviderServer.UpgradeResourceState, req)
}

func (s *server) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	return call(ctx, s.ProviderServer.ReadResource, req)
}

func (s *server) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	return call(ctx, s.ProviderServer.PlanResourceChange, req)
}

func (s *server) ApplyResourceChange(ctx context.Context, req *tfprotov6.ApplyResourceChangeRequest) (*tfprotov6.ApplyResourceChangeResponse, error) {
	return call(ctx, s.ProviderServer.ApplyResourceChange, req)
}

func (s *server) ImportResourceState(ctx context.Context, req *tfprotov6.ImportResourceStateRequest) (*tfprotov6.ImportResourceStateResponse, error) {
	return call(ctx, s.ProviderServer.ImportResourceState, req)
}

func (s *server) ValidateDataResourceConfig(ctx context.Context, req *tfprotov6.ValidateDataResourceConfigRequest) (*tfprotov6.ValidateDataResourceConfigResponse, error) {
	return call(ctx, s.ProviderServer.ValidateDataResourceConfig, req)
}

func (s *server) ReadDataSource(ctx context.Context, req *tfprotov6.ReadDataSourceRequest) (*tfprotov6.ReadDataSourceResponse, error) {
	return call(ctx, s.ProviderServer.ReadDataSource, req)
}

func (s *server) CallFunction(ctx context.Context, req *tfprotov6.CallFunctionRequest) (*tfprotov6.CallFunctionResponse, error) {
	return call(ctx, s.ProviderServer.CallFunction, req)
}

// endedContext is what a releasedContext answers once its request is
// answered: a finished context with no values.
var endedContext = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// releasedContext is a request's context until the request is answered,
// then endedContext. Its Done, while the request runs, is the request's own
// channel, and Value finds the request's cancelable context, so a context
// derived from it is canceled with the request, as from the request's
// context itself, without a goroutine.
type releasedContext struct {
	inner atomic.Pointer[context.Context]
}

func (c *releasedContext) ctx() context.Context {
	if p := c.inner.Load(); p != nil {
		return *p
	}
	return endedContext
}

func (c *releasedContext) Deadline() (time.Time, bool) { return c.ctx().Deadline() }
func (c *releasedContext) Done() <-chan struct{}       { return c.ctx().Done() }
func (c *releasedContext) Err() error                  { return c.ctx().Err() }
func (c *releasedContext) Value(key any) any           { return c.ctx().Value(key) }
