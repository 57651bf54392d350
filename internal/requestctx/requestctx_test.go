package requestctx

import (
	"context"
	"errors"
	"testing"
)

type ctxKey struct{}

// TestReleasedContext: while the request runs its context answers like the
// request's, and what derives from it is canceled with the request; once
// answered it holds nothing.
func TestReleasedContext(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "logger"))
	var kept context.Context
	var derived context.Context
	var stop context.CancelFunc
	_, err := call(parent, func(ctx context.Context, _ int) (int, error) {
		if ctx.Value(ctxKey{}) != "logger" || ctx.Err() != nil {
			t.Errorf("during the request: value %v, err %v", ctx.Value(ctxKey{}), ctx.Err())
		}
		kept = ctx
		derived, stop = context.WithCancel(ctx)
		return 0, nil
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if kept.Value(ctxKey{}) != nil || !errors.Is(kept.Err(), context.Canceled) {
		t.Errorf("after the request: value %v, err %v; want nothing and canceled", kept.Value(ctxKey{}), kept.Err())
	}
	if derived.Err() != nil {
		t.Errorf("a context derived during the request is canceled before the request's: %v", derived.Err())
	}
	cancel()
	<-derived.Done()
	stop()
}
