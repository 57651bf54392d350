package tenantdata

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestRetryable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "XX000", Message: "tuple concurrently updated"}, true},
		{fmt.Errorf("provisioning: %w", &pgconn.PgError{Code: "XX000", Message: "tuple concurrently deleted"}), true},
		{&pgconn.PgError{Code: "40P01", Message: "deadlock detected"}, true},
		{&pgconn.PgError{Code: "40001", Message: "could not serialize access"}, true},
		{&pgconn.PgError{Code: "XX000", Message: "cache lookup failed for relation 1"}, false},
		{&pgconn.PgError{Code: "42P04", Message: "database already exists"}, false},
		{&pgconn.PgError{Code: "42501", Message: "permission denied"}, false},
		{errors.New("tuple concurrently updated"), false},
		{context.Canceled, false},
	} {
		if got := retryable(c.err); got != c.want {
			t.Errorf("retryable(%v) = %t, want %t", c.err, got, c.want)
		}
	}
}

func TestRetry(t *testing.T) {
	t.Parallel()
	race := &pgconn.PgError{Code: "XX000", Message: "tuple concurrently updated"}
	calls := 0
	err := retry(t.Context(), func() error {
		if calls++; calls < 3 {
			return race
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("a race lost twice: %d calls, %v; want 3 calls and success", calls, err)
	}
	calls = 0
	if err := retry(t.Context(), func() error { calls++; return race }); !errors.Is(err, race) || calls != catalogAttempts {
		t.Errorf("a race always lost: %d calls, %v; want %d calls and the error", calls, err, catalogAttempts)
	}
	calls = 0
	denied := &pgconn.PgError{Code: "42501", Message: "permission denied"}
	if err := retry(t.Context(), func() error { calls++; return denied }); !errors.Is(err, denied) || calls != 1 {
		t.Errorf("another error: %d calls, %v; want 1 call and the error", calls, err)
	}
}
