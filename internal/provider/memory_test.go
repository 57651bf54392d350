package provider

import (
	"context"
	"reflect"
	"runtime"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// TestServerKeepsLittleOfARequest sends ValidateResourceConfig requests
// through terraform-plugin-go's server, which puts its loggers in each
// request's context as in a real run, and checks that the provider holds
// well under a KiB a request afterwards (the framework alone kept ~12 KiB).
func TestServerKeepsLittleOfARequest(t *testing.T) {
	ps := NewProtocol6("test")()
	rpc := tf6server.New("registry.terraform.io/tenancyhq/tenancy", ps, tf6server.WithLoggingSink(t))
	invoke := func(method string, build func(m protoreflect.Message)) {
		t.Helper()
		mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName("tfplugin6." + method + ".Request"))
		if err != nil {
			t.Fatal(err)
		}
		req := mt.New()
		if build != nil {
			build(req)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// The generated request types live in terraform-plugin-go's
		// internal package; the server's methods take them as they are.
		out := callMethod(rpc, method, ctx, req.Interface())
		if out != nil {
			t.Fatalf("%s: %v", method, out)
		}
	}
	invoke("GetProviderSchema", nil)
	typ := tftypes.Object{AttributeTypes: map[string]tftypes.Type{
		"id": tftypes.String, "tenant_id": tftypes.String, "key": tftypes.String, "description": tftypes.String,
		"environments": tftypes.Map{ElementType: tftypes.Object{AttributeTypes: map[string]tftypes.Type{
			"enabled": tftypes.Bool, "rollout_percentage": tftypes.Number,
		}}},
	}}
	cfg, err := tfprotov6.NewDynamicValue(typ, tftypes.NewValue(typ, map[string]tftypes.Value{
		"id": tftypes.NewValue(tftypes.String, nil), "tenant_id": tftypes.NewValue(tftypes.String, "acme"),
		"key": tftypes.NewValue(tftypes.String, "new-billing"), "description": tftypes.NewValue(tftypes.String, nil),
		"environments": tftypes.NewValue(typ.AttributeTypes["environments"], nil),
	}))
	if err != nil {
		t.Fatal(err)
	}
	validate := func(m protoreflect.Message) {
		fields := m.Descriptor().Fields()
		m.Set(fields.ByName("type_name"), protoreflect.ValueOfString("tenancy_feature_flag"))
		dv := m.NewField(fields.ByName("config")).Message()
		dv.Set(dv.Descriptor().Fields().ByName("msgpack"), protoreflect.ValueOfBytes(cfg.MsgPack))
		m.Set(fields.ByName("config"), protoreflect.ValueOfMessage(dv))
	}
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	for range 200 {
		invoke("ValidateResourceConfig", validate)
	}
	const n = 2000
	before := heap()
	for range n {
		invoke("ValidateResourceConfig", validate)
	}
	after := heap()
	perRequest := (int64(after) - int64(before)) / n
	t.Logf("the provider keeps %d bytes a request", perRequest)
	if perRequest > 1024 {
		t.Errorf("the provider keeps %d bytes of each request; want well under a KiB", perRequest)
	}
	runtime.KeepAlive(rpc)
}

// callMethod calls a method of terraform-plugin-go's gRPC-facing server by
// name and returns its error.
func callMethod(rpc any, method string, ctx context.Context, req any) error {
	out := reflect.ValueOf(rpc).MethodByName(method).Call([]reflect.Value{reflect.ValueOf(ctx), reflect.ValueOf(req)})
	err, _ := out[1].Interface().(error)
	return err
}
