// Package refreshfix works around a bug of Terraform CLI 1.10 to 1.14 that
// makes `terraform plan -refresh-only -detailed-exitcode` exit 2, "changes
// present", while it prints "No changes", for every configuration with a
// resource that has a number attribute: the nightly drift-detection job
// that every platform team runs would page someone every night.
//
// Those versions decide whether a refresh-only plan has anything to apply by
// comparing the refreshed state with the previous run's state using
// reflect.DeepEqual, cached decoded values included. The previous state is
// decoded from its JSON, where a number is parsed with 512 bits of
// precision; the refreshed state is decoded from the provider's msgpack,
// where a whole number has 64. Equal numbers then never compare equal.
// Terraform 1.15 compares the values themselves (hashicorp/terraform commit
// 659d5e2, "remove the use of reflect.DeepEqual for states").
//
// Wrap therefore sends the new state of ReadResource as JSON, the encoding
// Terraform uses for state files, which every Terraform version since 0.12
// accepts in place of msgpack and decodes exactly as it decodes a state
// file. Nothing else changes. When no supported Terraform version has the
// bug any more, this package can go.
package refreshfix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// Wrap returns s with ReadResource answering in JSON.
func Wrap(s tfprotov6.ProviderServer) tfprotov6.ProviderServer {
	return &server{ProviderServer: s}
}

type server struct {
	tfprotov6.ProviderServer

	once  sync.Once
	types map[string]tftypes.Type
}

// ReadResource re-encodes the new state as JSON. Anything it cannot
// re-encode (an error, a removed object, a type it does not know) goes to
// Terraform as the provider answered it.
func (s *server) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	resp, err := s.ProviderServer.ReadResource(ctx, req)
	if err != nil || resp == nil || resp.NewState == nil || len(resp.NewState.MsgPack) == 0 {
		return resp, err
	}
	if state, ok := s.asJSON(ctx, req.TypeName, resp.NewState); ok {
		resp.NewState = state
	}
	return resp, nil
}

// asJSON is a resource type's msgpack state as JSON, if it has one.
func (s *server) asJSON(ctx context.Context, typeName string, state *tfprotov6.DynamicValue) (*tfprotov6.DynamicValue, bool) {
	typ, ok := s.resourceType(ctx, typeName)
	if !ok {
		return nil, false
	}
	v, err := state.Unmarshal(typ)
	if err != nil || v.IsNull() {
		return nil, false
	}
	data, err := MarshalJSON(v)
	if err != nil {
		return nil, false
	}
	return &tfprotov6.DynamicValue{JSON: data}, true
}

// resourceType is the value type of a resource type's schema.
func (s *server) resourceType(ctx context.Context, typeName string) (tftypes.Type, bool) {
	s.once.Do(func() {
		s.types = map[string]tftypes.Type{}
		resp, err := s.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
		if err != nil || resp == nil {
			return
		}
		for name, schema := range resp.ResourceSchemas {
			s.types[name] = schema.ValueType()
		}
	})
	typ, ok := s.types[typeName]
	return typ, ok
}

// errNotJSON is a value that has no plain JSON form: unknown, or of a
// dynamic type.
var errNotJSON = errors.New("value has no plain JSON encoding")

// MarshalJSON encodes a wholly known value of a type without dynamic parts
// as Terraform encodes it in state files: objects and maps as JSON objects,
// lists, sets and tuples as arrays, numbers as exact decimals.
func MarshalJSON(v tftypes.Value) ([]byte, error) {
	tree, err := plain(v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(tree)
}

func plain(v tftypes.Value) (any, error) {
	typ := v.Type()
	switch {
	case !v.IsKnown() || typ.Is(tftypes.DynamicPseudoType):
		return nil, errNotJSON
	case v.IsNull():
		return nil, nil
	case typ.Is(tftypes.String):
		var s string
		return s, v.As(&s)
	case typ.Is(tftypes.Bool):
		var b bool
		return b, v.As(&b)
	case typ.Is(tftypes.Number):
		n := new(big.Float)
		if err := v.As(&n); err != nil {
			return nil, err
		}
		if n.IsInf() {
			return nil, errNotJSON
		}
		return json.Number(n.Text('f', -1)), nil
	case typ.Is(tftypes.List{}), typ.Is(tftypes.Set{}), typ.Is(tftypes.Tuple{}):
		var elems []tftypes.Value
		if err := v.As(&elems); err != nil {
			return nil, err
		}
		out := make([]any, len(elems))
		for i, e := range elems {
			var err error
			if out[i], err = plain(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case typ.Is(tftypes.Map{}), typ.Is(tftypes.Object{}):
		var attrs map[string]tftypes.Value
		if err := v.As(&attrs); err != nil {
			return nil, err
		}
		out := make(map[string]any, len(attrs))
		for k, a := range attrs {
			var err error
			if out[k], err = plain(a); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: type %s", errNotJSON, typ)
}
