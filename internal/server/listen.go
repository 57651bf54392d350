package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// ConnLimits bounds what one client connection may hold of the server, so
// that slow or idle clients cannot exhaust it: deadlines for reading a
// request and writing its answer, and a cap on open connections (each is a
// file descriptor and a goroutine).
type ConnLimits struct {
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout time.Duration
	// WriteTimeout bounds handling a request and writing its answer,
	// from the end of its headers.
	WriteTimeout time.Duration
	// IdleTimeout bounds how long a keep-alive connection waits for the
	// next request.
	IdleTimeout time.Duration
	// MaxConnections caps the connections served at once; more wait to be
	// accepted. 0 is no cap.
	MaxConnections int
}

// DefaultConnLimits are the limits tenancyd serves with unless told
// otherwise: generous for any real client of the API (a body is at most
// 1 MiB), short enough that trickling clients let go of their connection.
func DefaultConnLimits() ConnLimits {
	return ConnLimits{
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxConnections:    512,
	}
}

// Check refuses limits that would leave connections unbounded.
func (l ConnLimits) Check() error {
	for name, d := range map[string]time.Duration{
		"read header timeout": l.ReadHeaderTimeout, "read timeout": l.ReadTimeout,
		"write timeout": l.WriteTimeout, "idle timeout": l.IdleTimeout,
	} {
		if d <= 0 {
			return fmt.Errorf("%s is %s; use a positive duration, such as 30s", name, d)
		}
	}
	if l.MaxConnections < 0 {
		return fmt.Errorf("max connections is %d; use 0 (no cap) or more", l.MaxConnections)
	}
	return nil
}

// HTTPServer is an http.Server for h with these limits.
func (l ConnLimits) HTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
	}
}

// Listener caps the connections ln hands out at once; wrap it before TLS,
// so that handshakes count too.
func (l ConnLimits) Listener(ln net.Listener) net.Listener {
	if l.MaxConnections <= 0 {
		return ln
	}
	return netutil.LimitListener(ln, l.MaxConnections)
}

// watchedBody notes whether a request body was read to its end, so that an
// answer sent before that closes the connection instead of reading the rest.
type watchedBody struct {
	io.ReadCloser
	done bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) {
		b.done = true
	}
	return n, err
}

// watchBodies wraps every request body in a watchedBody.
func watchBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &watchedBody{ReadCloser: r.Body}
		}
		next.ServeHTTP(w, r)
	})
}

// closeIfUnread asks for the connection to be closed after an answer to a
// request whose body was not read to its end (a 401 before any reading, a
// 413 at the limit): otherwise net/http reads up to 256 KiB of it before
// answering, at whatever pace the client sends, to keep the connection.
func closeIfUnread(w http.ResponseWriter, r *http.Request) {
	if b, ok := r.Body.(*watchedBody); ok && !b.done {
		w.Header().Set("Connection", "close")
	}
}
