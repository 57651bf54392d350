package refreshfix

import (
	"context"
	"encoding/json"
	"math/big"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

var objectType = tftypes.Object{AttributeTypes: map[string]tftypes.Type{
	"id":      tftypes.String,
	"days":    tftypes.Number,
	"ratio":   tftypes.Number,
	"on":      tftypes.Bool,
	"labels":  tftypes.Map{ElementType: tftypes.String},
	"cidrs":   tftypes.Set{ElementType: tftypes.String},
	"missing": tftypes.String,
	"nested": tftypes.Object{AttributeTypes: map[string]tftypes.Type{
		"limit": tftypes.Number,
	}},
	"envs": tftypes.Map{ElementType: tftypes.Object{AttributeTypes: map[string]tftypes.Type{
		"rollout": tftypes.Number,
	}}},
}}

func sample() tftypes.Value {
	ratio, _ := new(big.Float).SetString("0.125")
	huge, _ := new(big.Float).SetPrec(512).SetString("123456789012345678901234567890")
	envType := objectType.AttributeTypes["envs"].(tftypes.Map).ElementType
	return tftypes.NewValue(objectType, map[string]tftypes.Value{
		"id":      tftypes.NewValue(tftypes.String, "acme"),
		"days":    tftypes.NewValue(tftypes.Number, 30),
		"ratio":   tftypes.NewValue(tftypes.Number, ratio),
		"on":      tftypes.NewValue(tftypes.Bool, true),
		"labels":  tftypes.NewValue(tftypes.Map{ElementType: tftypes.String}, map[string]tftypes.Value{"team": tftypes.NewValue(tftypes.String, "platform")}),
		"cidrs":   tftypes.NewValue(tftypes.Set{ElementType: tftypes.String}, []tftypes.Value{tftypes.NewValue(tftypes.String, "10.0.0.0/8")}),
		"missing": tftypes.NewValue(tftypes.String, nil),
		"nested": tftypes.NewValue(objectType.AttributeTypes["nested"], map[string]tftypes.Value{
			"limit": tftypes.NewValue(tftypes.Number, huge),
		}),
		"envs": tftypes.NewValue(objectType.AttributeTypes["envs"], map[string]tftypes.Value{
			"staging": tftypes.NewValue(envType, map[string]tftypes.Value{"rollout": tftypes.NewValue(tftypes.Number, 0)}),
		}),
	})
}

// TestMarshalJSONRoundTrips checks that what MarshalJSON writes decodes, as
// Terraform decodes JSON, to the very value it encoded.
func TestMarshalJSONRoundTrips(t *testing.T) {
	want := sample()
	data, err := MarshalJSON(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := (&tfprotov6.DynamicValue{JSON: data}).Unmarshal(objectType)
	if err != nil {
		t.Fatalf("decoding %s: %v", data, err)
	}
	if !got.Equal(want) {
		t.Fatalf("round trip through %s changed the value:\n got %v\nwant %v", data, got, want)
	}
	var numbers struct {
		Days   json.Number `json:"days"`
		Ratio  json.Number `json:"ratio"`
		Nested struct {
			Limit json.Number `json:"limit"`
		} `json:"nested"`
	}
	if err := json.Unmarshal(data, &numbers); err != nil {
		t.Fatal(err)
	}
	if numbers.Days != "30" || numbers.Ratio != "0.125" || numbers.Nested.Limit != "123456789012345678901234567890" {
		t.Errorf("numbers are not written as exact decimals: %s", data)
	}
}

func TestMarshalJSONRefusesWhatJSONCannotHold(t *testing.T) {
	for name, v := range map[string]tftypes.Value{
		"unknown": tftypes.NewValue(tftypes.String, tftypes.UnknownValue),
		"dynamic": tftypes.NewValue(tftypes.DynamicPseudoType, tftypes.UnknownValue),
	} {
		if _, err := MarshalJSON(v); err == nil {
			t.Errorf("%s: encoded; want an error", name)
		}
	}
}

// fakeServer answers ReadResource with a msgpack state, as the framework does.
type fakeServer struct {
	tfprotov6.ProviderServer
	state *tfprotov6.DynamicValue
}

func (f fakeServer) GetProviderSchema(context.Context, *tfprotov6.GetProviderSchemaRequest) (*tfprotov6.GetProviderSchemaResponse, error) {
	attrs := []*tfprotov6.SchemaAttribute{}
	for name, typ := range objectType.AttributeTypes {
		attrs = append(attrs, &tfprotov6.SchemaAttribute{Name: name, Type: typ, Optional: true})
	}
	return &tfprotov6.GetProviderSchemaResponse{ResourceSchemas: map[string]*tfprotov6.Schema{
		"tenancy_thing": {Block: &tfprotov6.SchemaBlock{Attributes: attrs}},
	}}, nil
}

func (f fakeServer) ReadResource(context.Context, *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	return &tfprotov6.ReadResourceResponse{NewState: f.state, Private: []byte(`{"revision":"Mw=="}`)}, nil
}

func TestWrapAnswersReadResourceInJSON(t *testing.T) {
	state, err := tfprotov6.NewDynamicValue(objectType, sample())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := Wrap(fakeServer{state: &state}).ReadResource(t.Context(), &tfprotov6.ReadResourceRequest{TypeName: "tenancy_thing"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.NewState.MsgPack) != 0 || len(resp.NewState.JSON) == 0 {
		t.Fatalf("the new state is not JSON: %+v", resp.NewState)
	}
	if string(resp.Private) != `{"revision":"Mw=="}` {
		t.Errorf("private state changed to %s", resp.Private)
	}
	got, err := resp.NewState.Unmarshal(objectType)
	if err != nil || !got.Equal(sample()) {
		t.Fatalf("the JSON state decodes to %v (%v), want %v", got, err, sample())
	}

	// A removed object and an unknown type are passed through untouched.
	removed, _ := tfprotov6.NewDynamicValue(objectType, tftypes.NewValue(objectType, nil))
	resp, _ = Wrap(fakeServer{state: &removed}).ReadResource(t.Context(), &tfprotov6.ReadResourceRequest{TypeName: "tenancy_thing"})
	if len(resp.NewState.MsgPack) == 0 {
		t.Error("a removed object's null state was re-encoded")
	}
	resp, _ = Wrap(fakeServer{state: &state}).ReadResource(t.Context(), &tfprotov6.ReadResourceRequest{TypeName: "tenancy_other"})
	if len(resp.NewState.MsgPack) == 0 {
		t.Error("the state of a type without a schema was re-encoded")
	}
}
