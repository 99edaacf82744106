package localproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// FreeAddress is a local TCP address ("127.0.0.1:port") nobody listens on
// now.
func FreeAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// ErrExited is WaitReady's answer when the process exited before it was
// ready.
var ErrExited = errors.New("the process exited before it was ready")

// WaitReady asks url every interval until it answers 200 OK. It gives up
// with ErrExited when exited is closed first, with ctx's error when ctx
// ends, and with an error naming timeout when that passes.
func WaitReady(ctx context.Context, url string, exited <-chan struct{}, interval, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return ErrExited
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s", timeout)
		}
	}
}
