// Command terraform-provider-benchfloor serves the benchmark's floor
// provider (internal/benchfloor), which does no I/O, the way the tenancy
// provider is served (framework server wrapped by internal/requestctx), so
// that the two differ only in what their resources do. It is built by the
// scale benchmark only, never released.
package main

import (
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/benchfloor"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/requestctx"
)

func main() {
	err := tf6server.Serve("registry.terraform.io/tenancyhq/benchfloor", func() tfprotov6.ProviderServer {
		return requestctx.Wrap(providerserver.NewProtocol6(benchfloor.New())())
	})
	if err != nil {
		log.Fatal(err)
	}
}
