// Command terraform-provider-tenancy is the tenancy Terraform provider.
package main

import (
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/provider"
)

// version is set by the release build (goreleaser) with -ldflags.
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()

	var opts []tf6server.ServeOpt
	if debug {
		opts = append(opts, tf6server.WithManagedDebug())
	}
	if err := tf6server.Serve("registry.terraform.io/tenancyhq/tenancy", provider.NewProtocol6(version), opts...); err != nil {
		log.Fatal(err)
	}
}
