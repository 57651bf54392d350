// Command terraform-provider-benchfloor serves the benchmark's floor
// provider (internal/benchfloor), which does no I/O. It is built by the
// scale benchmark only, never released.
package main

import (
	"context"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/benchfloor"
)

func main() {
	err := providerserver.Serve(context.Background(), benchfloor.New, providerserver.ServeOpts{
		Address: "registry.terraform.io/tenancyhq/benchfloor",
	})
	if err != nil {
		log.Fatal(err)
	}
}
