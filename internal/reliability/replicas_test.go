package reliability_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/reliability"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store/pgtest"
)

// replicaSet is three tenancyd processes on one PostgreSQL database behind
// a round-robin proxy.
type replicaSet struct {
	database string
	replicas []*tenancyd
	// URL is the round-robin proxy's; every request goes to the next replica.
	URL   string
	token string
	// served counts the requests each replica was sent.
	served []atomic.Int64
}

func startReplicas(t *testing.T, n int) *replicaSet {
	t.Helper()
	rs := &replicaSet{database: pgtest.URL(t), served: make([]atomic.Int64, n)}
	// One after the other: the first creates the schema and the token.
	first := startTenancyd(t, rs.database, "--log-level", "warn")
	rs.replicas = append(rs.replicas, first)
	for range n - 1 {
		rs.replicas = append(rs.replicas, startReplicaOf(t, first))
	}
	rs.token = first.token
	var next atomic.Int64
	targets := make([]*url.URL, n)
	for i, r := range rs.replicas {
		targets[i], _ = url.Parse(r.URL())
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			i := int(next.Add(1)-1) % n
			rs.served[i].Add(1)
			r.SetURL(targets[i])
			r.Out.Host = r.In.Host
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	rs.URL = "http://" + ln.Addr().String()
	return rs
}

// startReplicaOf starts another tenancyd on the database of d, with its
// token and secret key.
func startReplicaOf(t *testing.T, d *tenancyd) *tenancyd {
	t.Helper()
	r := &tenancyd{t: t, bin: d.bin, database: d.database, token: d.token, env: d.env, args: d.args}
	r.start()
	t.Cleanup(r.stop)
	return r
}

// TestReplicas applies a fleet through three tenancyd replicas on one
// PostgreSQL behind a round-robin proxy, then has many clients at once
// write through them: no update is lost, a conditional write wins once,
// and quotas hold across the replicas (max_users, environment quotas
// within the tenant's).
func TestReplicas(t *testing.T) {
	needTerraform(t)
	t.Parallel()
	fig := reliability.Record(t, "replicas",
		"three tenancyd on one PostgreSQL behind a round-robin proxy: a fleet applied, concurrent writes, quotas")
	rs := startReplicas(t, 3)
	ctx := t.Context()
	c := apiClient(t, rs.URL, rs.token, 3)

	t.Run("fleet", func(t *testing.T) {
		f := newFleet(t, rs.URL, rs.token, "replica", reliability.Pick(4, 20))
		if err := f.tf.Apply(ctx, f.vars...); err != nil {
			t.Fatalf("apply through the replicas: %v", err)
		}
		st, err := store.Open(ctx, rs.database)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		want := expected(f.n)
		dups, missing, off := compareObjects(want, countObjects(t, st, want, f.tenants()...))
		fig.Set("fleet customers", int64(f.n))
		fig.Set("fleet objects duplicated", dups, "= 0")
		fig.Set("fleet objects missing", missing, "= 0")
		if dups+missing != 0 {
			t.Errorf("after the apply: %s", off)
		}
		changes, err := f.tf.Plan(ctx, f.vars...)
		if err != nil {
			t.Fatal(err)
		}
		fig.Set("non-empty plans after apply", map[bool]int64{true: 1, false: 0}[changes], "= 0")
		if changes {
			t.Error("the plan after applying through the replicas is not empty")
		}
	})

	t.Run("no lost update", func(t *testing.T) {
		if _, err := c.CreateTenant(ctx, api.TenantSpec{Slug: "lost-update", DisplayName: "Lost update", Region: "eu-west"}); err != nil {
			t.Fatal(err)
		}
		writers := reliability.Pick(24, 90)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				patch, _ := json.Marshal(map[string]any{"labels": map[string]string{fmt.Sprintf("writer-%03d", i): "done"}})
				if _, err := c.UpdateTenant(ctx, "lost-update", patch, 0); err != nil {
					t.Errorf("writer %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		tn, err := c.GetTenant(ctx, "lost-update")
		if err != nil {
			t.Fatal(err)
		}
		lost := int64(writers - len(tn.Labels))
		fig.Set("concurrent unconditional updates", int64(writers))
		fig.Set("lost updates", lost, "= 0")
		if lost != 0 || tn.Revision != int64(1+writers) {
			t.Errorf("%d labels at revision %d after %d writes; want %d at %d", len(tn.Labels), tn.Revision, writers, writers, 1+writers)
		}

		// Conditional writes on one revision: exactly one wins each round.
		once := apiClient(t, rs.URL, rs.token, 0)
		rounds, badRounds := reliability.Pick(3, 10), int64(0)
		for round := range rounds {
			cur, err := c.GetTenant(ctx, "lost-update")
			if err != nil {
				t.Fatal(err)
			}
			var won, stale atomic.Int64
			for i := range 9 {
				wg.Go(func() {
					patch, _ := json.Marshal(map[string]any{"display_name": fmt.Sprintf("round %d writer %d", round, i)})
					_, err := once.UpdateTenant(ctx, "lost-update", patch, cur.Revision)
					switch {
					case err == nil:
						won.Add(1)
					case errors.Is(err, client.ErrPreconditionFailed):
						stale.Add(1)
					default:
						t.Errorf("round %d writer %d: %v", round, i, err)
					}
				})
			}
			wg.Wait()
			if won.Load() != 1 || stale.Load() != 8 {
				badRounds++
				t.Errorf("round %d: %d won and %d were told the revision is stale; want 1 and 8", round, won.Load(), stale.Load())
			}
		}
		fig.Set("conditional-write rounds (9 writers, one revision)", int64(rounds))
		fig.Set("rounds without exactly one winner", badRounds, "= 0")
	})

	t.Run("quotas", func(t *testing.T) {
		if _, err := c.CreateTenant(ctx, api.TenantSpec{Slug: "quota-race", DisplayName: "Quota race", Region: "eu-west"}); err != nil {
			t.Fatal(err)
		}
		const maxUsers, cpu, envs = 10, 4000, 6
		if _, err := c.SetQuota(ctx, "quota-race", "", api.QuotaSpec{MaxUsers: ptr(int64(maxUsers)), CPUMillicores: ptr(int64(cpu))}, 0); err != nil {
			t.Fatal(err)
		}
		for i := range envs {
			if _, err := c.CreateEnvironment(ctx, "quota-race", api.EnvironmentSpec{Name: fmt.Sprintf("env-%d", i), Type: "development"}); err != nil {
				t.Fatal(err)
			}
		}
		tries := reliability.Pick(30, 90)
		var created, envQuotas atomic.Int64
		var wg sync.WaitGroup
		for i := range tries {
			wg.Go(func() {
				if _, err := c.CreateUser(ctx, "quota-race", api.UserSpec{Email: fmt.Sprintf("u%03d@quota-race.example.com", i), DisplayName: "U"}); err == nil {
					created.Add(1)
				}
			})
		}
		for i := range envs {
			wg.Go(func() {
				if _, err := c.SetQuota(ctx, "quota-race", fmt.Sprintf("env-%d", i), api.QuotaSpec{CPUMillicores: ptr(int64(cpu / 4))}, 0); err == nil {
					envQuotas.Add(1)
				}
			})
		}
		wg.Wait()
		users, err := c.ListUsers(ctx, "quota-race", nil)
		if err != nil {
			t.Fatal(err)
		}
		var cpuSum int64
		for i := range envs {
			q, err := c.GetQuota(ctx, "quota-race", fmt.Sprintf("env-%d", i))
			if err == nil && q.CPUMillicores != nil {
				cpuSum += *q.CPUMillicores
			}
		}
		fig.Set("concurrent user creations (max_users 10)", int64(tries))
		fig.Set("users over max_users", max(int64(len(users))-maxUsers, 0), "= 0")
		fig.Set("environment cpu over the tenant's", max(cpuSum-cpu, 0), "= 0")
		if len(users) != maxUsers || created.Load() != maxUsers {
			t.Errorf("%d users exist, %d creations answered; want exactly %d", len(users), created.Load(), maxUsers)
		}
		if cpuSum != cpu || envQuotas.Load() != 4 {
			t.Errorf("%d environment quotas set, %d millicores in all; want 4 and %d", envQuotas.Load(), cpuSum, cpu)
		}
	})

	var panics int64
	for i, r := range rs.replicas {
		panics += r.panics()
		fig.Set(fmt.Sprintf("requests to replica %d", i+1), rs.served[i].Load())
	}
	fig.Set("panics in tenancyd's output", panics, "= 0")
	if panics != 0 {
		t.Errorf("the replicas panicked %d times", panics)
	}
}

func ptr[T any](v T) *T { return &v }
