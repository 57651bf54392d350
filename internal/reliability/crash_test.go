package reliability_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/reliability"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store/pgtest"
)

// TestCrashSafety kills tenancyd (the real binary) with SIGKILL over and
// over while API clients write and Terraform applies a fleet, restarting it
// each time on the same database. Then the database passes its integrity
// checks, every write tenancyd acknowledged is there exactly once, and
// Terraform converges: a re-apply succeeds, the platform holds exactly
// the fleet's objects, and the next plan is empty.
func TestCrashSafety(t *testing.T) {
	needTerraform(t)
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		crashRun(t, "sqlite://"+filepath.Join(t.TempDir(), "tenancy.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		crashRun(t, pgtest.URL(t))
	})
}

// acked records the writes tenancyd acknowledged.
type acked struct {
	mu        sync.Mutex
	users     map[string]string // user id -> email
	labels    []string
	failed    int64 // writes that got no answer or an error
	errors5xx int64
}

func crashRun(t *testing.T, database string) {
	kills := reliability.Pick(4, 20)
	fig := reliability.Record(t, "crashes",
		"tenancyd killed with SIGKILL during a stream of API writes and a Terraform apply, restarted on the same database")
	d := startTenancyd(t, database, "--log-level", "warn")
	ctx := t.Context()
	c := d.client(t, 3)
	if _, err := c.CreateTenant(ctx, api.TenantSpec{Slug: "crash", DisplayName: "Crash", Region: "eu-west"}); err != nil {
		t.Fatal(err)
	}
	f := newFleet(t, d.URL(), d.token, "crashfleet", reliability.Pick(2, 4))

	// Writers: users created and labels added, each acknowledged one
	// recorded.
	ack := &acked{users: map[string]string{}}
	stop := make(chan struct{})
	var writers sync.WaitGroup
	for w := range 3 {
		writers.Go(func() { writeUntil(ctx, c, w, stop, ack) })
	}
	applied := make(chan error, 1)
	go func() { applied <- f.tf.Apply(ctx, f.vars...) }()

	rng := rand.New(rand.NewPCG(uint64(len(database)), 7)) //nolint:gosec // A reproducible schedule, not a secret.
	for range kills {
		time.Sleep(time.Duration(150+rng.IntN(450)) * time.Millisecond)
		d.kill()
		d.start()
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	writers.Wait()
	firstApply := <-applied
	if firstApply != nil {
		t.Logf("the apply during the kills failed (a re-apply must converge): %v", firstApply)
	}
	fig.Set("applies during the kills that failed", map[bool]int64{true: 1, false: 0}[firstApply != nil])
	fig.Set("kills (SIGKILL)", int64(kills), reliability.Pick(">= 3", ">= 20"))
	fig.Set("writes acknowledged", int64(len(ack.users)+len(ack.labels)), ">= 1")
	fig.Set("writes unanswered or failed", ack.failed)
	fig.Set("5xx answers", ack.errors5xx)
	if len(ack.users) == 0 || len(ack.labels) == 0 {
		t.Fatalf("only %d users and %d labels were acknowledged; the writers did not write", len(ack.users), len(ack.labels))
	}

	// Integrity, with tenancyd stopped.
	d.stop()
	problems := integrityCheck(t, database, fig)
	fig.Set("integrity problems", int64(len(problems)), "= 0")
	for _, p := range problems {
		t.Errorf("integrity: %s", p)
	}
	d.start()

	// Every acknowledged write is there, once.
	lost, dups := checkAcked(t, c, ack)
	fig.Set("acknowledged writes lost", lost, "= 0")
	fig.Set("duplicate users", dups, "= 0")

	// Terraform converges.
	if err := f.tf.Apply(ctx, f.vars...); err != nil {
		t.Fatalf("the re-apply after the kills did not converge: %v", err)
	}
	st, err := store.Open(ctx, database)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	want := expected(f.n)
	objDups, missing, off := compareObjects(want, countObjects(t, st, want, f.tenants()...))
	fig.Set("fleet objects duplicated", objDups, "= 0")
	fig.Set("fleet objects missing", missing, "= 0")
	if objDups+missing != 0 {
		t.Errorf("after the re-apply: %s", off)
	}
	changes, err := f.tf.Plan(ctx, f.vars...)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	fig.Set("non-empty plans after re-apply", map[bool]int64{true: 1, false: 0}[changes], "= 0")
	if changes {
		t.Error("the plan after the re-apply is not empty")
	}
	fig.Set("panics in tenancyd's output", d.panics(), "= 0")
	if n := d.panics(); n != 0 {
		t.Errorf("tenancyd panicked %d times:\n%s", n, d.output())
	}
	t.Logf("%d kills; %d users and %d labels acknowledged, %d writes failed; the re-apply converged",
		kills, len(ack.users), len(ack.labels), ack.failed)
}

// writeUntil creates users and adds tenant labels until stop is closed.
func writeUntil(ctx context.Context, c *client.Client, w int, stop <-chan struct{}, ack *acked) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		var err error
		if i%2 == 0 {
			email := fmt.Sprintf("w%d-%05d@crash.example.com", w, i)
			var u *api.User
			if u, err = c.CreateUser(ctx, "crash", api.UserSpec{Email: email, DisplayName: "Writer"}); err == nil {
				ack.mu.Lock()
				ack.users[u.ID] = email
				ack.mu.Unlock()
			}
		} else {
			label := fmt.Sprintf("w%d-%05d", w, i)
			patch, _ := json.Marshal(map[string]any{"labels": map[string]string{label: "acked"}})
			if _, err = c.UpdateTenant(ctx, "crash", patch, 0); err == nil {
				ack.mu.Lock()
				ack.labels = append(ack.labels, label)
				ack.mu.Unlock()
			}
		}
		if err != nil {
			ack.mu.Lock()
			ack.failed++
			var apiErr *client.APIError
			if errors.As(err, &apiErr) && apiErr.StatusCode >= 500 {
				ack.errors5xx++
			}
			ack.mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// checkAcked counts the acknowledged writes that are missing, and the
// users that exist more than once.
func checkAcked(t *testing.T, c *client.Client, ack *acked) (lost, dups int64) {
	t.Helper()
	ctx := t.Context()
	users, err := c.ListUsers(ctx, "crash", nil)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]string{}
	emails := map[string]int{}
	for _, u := range users {
		byID[u.ID] = u.Email
		emails[strings.ToLower(u.Email)]++
	}
	for id, email := range ack.users {
		if byID[id] != email {
			lost++
			t.Errorf("acknowledged user %s (%s) is missing", id, email)
		}
	}
	for email, n := range emails {
		if n > 1 {
			dups += int64(n - 1)
			t.Errorf("user %s exists %d times", email, n)
		}
	}
	tn, err := c.GetTenant(ctx, "crash")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ack.labels {
		if tn.Labels[l] != "acked" {
			lost++
			t.Errorf("acknowledged label %s is missing", l)
		}
	}
	return lost, dups
}

// integrityCheck runs the database's own consistency checks and returns
// what they found wrong: PRAGMA integrity_check on SQLite; on PostgreSQL,
// amcheck's B-tree check of every index against its table and its heap
// check of every table.
func integrityCheck(t *testing.T, database string, fig *reliability.Recorder) []string {
	t.Helper()
	ctx := t.Context()
	var problems []string
	if path, ok := strings.CutPrefix(database, "sqlite://"); ok {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			if line != "ok" {
				problems = append(problems, line)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		fig.Set("integrity checks run (PRAGMA integrity_check)", 1)
		return problems
	}
	conn, err := pgx.Connect(ctx, database)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS amcheck"); err != nil {
		t.Fatalf("amcheck is needed to check PostgreSQL's indexes and tables (it ships with PostgreSQL): %v", err)
	}
	var indexes, tables []string
	rows, err := conn.Query(ctx, `SELECT c.oid::regclass::text FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE a.amname = 'btree' AND n.nspname = 'public' AND i.indisvalid AND i.indisready`)
	if err == nil {
		indexes, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		t.Fatal(err)
	}
	rows, err = conn.Query(ctx, `SELECT c.oid::regclass::text FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = 'public'`)
	if err == nil {
		tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, idx := range indexes {
		// heapallindexed: every row of the table is found in the index.
		if _, err := conn.Exec(ctx, "SELECT bt_index_check($1::regclass, true)", idx); err != nil {
			problems = append(problems, fmt.Sprintf("index %s: %v", idx, err))
		}
	}
	for _, table := range tables {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM verify_heapam($1::regclass)", table).Scan(&n); err != nil {
			problems = append(problems, fmt.Sprintf("table %s: %v", table, err))
		} else if n > 0 {
			problems = append(problems, fmt.Sprintf("table %s: %d corrupt tuples", table, n))
		}
	}
	if len(indexes) == 0 || len(tables) == 0 {
		problems = append(problems, fmt.Sprintf("found %d indexes and %d tables to check", len(indexes), len(tables)))
	}
	fig.Set("indexes checked (amcheck bt_index_check)", int64(len(indexes)))
	fig.Set("tables checked (amcheck verify_heapam)", int64(len(tables)))
	return problems
}
