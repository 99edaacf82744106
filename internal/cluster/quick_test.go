package cluster

import (
	"context"
	"testing"
	"time"
)

func TestQuickStart(t *testing.T) {
	start := time.Now()
	c, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("started in %v at %s", time.Since(start), c.Host())
	c.Stop()
	t.Logf("stopped after %v", time.Since(start))
}
