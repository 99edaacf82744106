package cluster

import (
	"fmt"
	"net/url"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// etcdServer is an embedded etcd member serving on a free loopback port.
type etcdServer struct {
	e         *embed.Etcd
	clientURL string
}

// startEtcd starts a single-member etcd whose data lives in dir. With
// durable false, fsync is off: much faster, and fine for throw-away test
// clusters.
func startEtcd(dir string, durable bool) (*etcdServer, error) {
	cfg := embed.NewConfig()
	cfg.Name = "ramp"
	cfg.Dir = dir
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.UnsafeNoFsync = !durable
	// A single member elects itself: short timers make that take
	// milliseconds instead of a second.
	cfg.TickMs = 10
	cfg.ElectionMs = 50
	// Port 0 lets the kernel pick free ports; the real addresses are read
	// back from the listeners below.
	loopback := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	cfg.ListenClientUrls = []url.URL{loopback}
	cfg.AdvertiseClientUrls = []url.URL{loopback}
	cfg.ListenPeerUrls = []url.URL{loopback}
	cfg.AdvertisePeerUrls = []url.URL{loopback}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ListenMetricsUrls = nil

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd failed: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("etcd did not become ready within 60s")
	}
	if len(e.Clients) == 0 {
		e.Close()
		return nil, fmt.Errorf("etcd has no client listener")
	}
	return &etcdServer{e: e, clientURL: "http://" + e.Clients[0].Addr().String()}, nil
}

func (s *etcdServer) stop() {
	s.e.Close()
}
