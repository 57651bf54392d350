package reliability_test

import (
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/faultinject"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/reliability"
)

// faultSeed makes the sequence of faults the same from run to run (the
// order in which Terraform's parallel requests draw from it still varies).
const faultSeed = 20261130

// TestFaultsFleetConverges applies examples/fleet through a network that
// faults about three requests in ten: 5xx and dropped connections after
// tenancyd committed, resets before a request arrives, 429 with
// Retry-After, latency, truncated and wrong bodies. The apply succeeds (or
// a second one converges), the platform then holds exactly the objects the
// fleet describes, the next plan (refreshed through the same faults) is
// empty, and a destroy through them leaves nothing behind.
func TestFaultsFleetConverges(t *testing.T) {
	needTerraform(t)
	t.Parallel()
	customers := reliability.Pick(6, 50)
	fig := reliability.Record(t, "faults",
		"examples/fleet applied, planned and destroyed through toxiproxy and an HTTP fault proxy faulting >= 20% of requests")
	fig.Set("customers", int64(customers))
	fig.Set("seed", faultSeed)

	srv := acctest.Start(t, acctest.WithProvisioningDelay(0))
	proxy, err := faultinject.New(srv.URL, faultSeed, faultinject.DefaultRates())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	proxy.Enable(false) // terraform init talks to no API, but be sure.
	f := newFleet(t, proxy.URL, srv.Token, "faulty", customers)
	proxy.Enable(true)
	ctx := t.Context()

	applies := 0
	for applies < 2 {
		applies++
		err := f.tf.Apply(ctx, f.vars...)
		if err == nil {
			break
		}
		if applies == 2 {
			t.Fatalf("the second apply did not converge either: %v", err)
		}
		t.Logf("apply %d failed under faults, applying again: %v", applies, err)
	}
	fig.Set("applies", int64(applies), "<= 2")

	want := expected(customers)
	dups, missing, off := compareObjects(want, countObjects(t, srv.Store, want))
	fig.Set("duplicates", dups, "= 0")
	fig.Set("missing objects", missing, "= 0")
	if dups != 0 || missing != 0 {
		t.Errorf("after the apply, %d duplicates and %d missing: %s", dups, missing, off)
	}

	changes, err := f.tf.Plan(ctx, f.vars...)
	if err != nil {
		t.Fatalf("plan after the apply: %v", err)
	}
	fig.Set("non-empty plans after apply", map[bool]int64{true: 1, false: 0}[changes], "= 0")
	if changes {
		t.Error("the plan after the apply is not empty")
	}

	if err := f.tf.Destroy(ctx, f.vars...); err != nil {
		// A destroy may fail as an apply may; the second one must finish.
		t.Logf("destroy failed under faults, destroying again: %v", err)
		if err := f.tf.Destroy(ctx, f.vars...); err != nil {
			t.Fatalf("the second destroy did not finish either: %v", err)
		}
	}
	var left int64
	for _, n := range countObjects(t, srv.Store, want) {
		left += n
	}
	fig.Set("objects left after destroy", left, "= 0")
	if left != 0 {
		t.Errorf("%d objects left after destroy", left)
	}

	counts := proxy.Counts()
	t.Logf("faults: %v", counts)
	fig.Set("requests", counts.Requests)
	fig.Set("5xx from tenancyd itself", counts.ServerErrors, "= 0")
	if counts.ServerErrors != 0 {
		t.Errorf("tenancyd answered %d requests with a 5xx of its own", counts.ServerErrors)
	}
	fig.Set("faulted requests", counts.Faulted())
	fig.Set("faulted per mille", int64(1000*counts.Rate()), ">= 200")
	for _, k := range []faultinject.Kind{
		faultinject.ErrorAfterCommit, faultinject.DropAfterCommit, faultinject.ResetBeforeRequest,
		faultinject.TooManyRequests, faultinject.Latency, faultinject.TruncatedBody, faultinject.WrongBody,
	} {
		fig.Set("faults: "+string(k), counts.Faults[k], ">= 1")
		if counts.Faults[k] == 0 {
			t.Errorf("no %s fault was injected: %v", k, counts)
		}
	}
	if counts.Rate() < 0.20 {
		t.Errorf("only %.1f%% of requests were faulted; want at least 20%%: %v", 100*counts.Rate(), counts)
	}
}
