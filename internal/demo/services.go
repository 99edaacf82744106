package demo

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Services gives every Service of the sandbox a listener on 127.0.0.1 that
// spreads connections over the Service's ready endpoints, as kube-proxy
// would: a basic canary's traffic follows its pod ratio. The addresses are
// written to a file, one "namespace/name address" per line.
type Services struct {
	file   string
	slices cache.Indexer

	mu        sync.Mutex
	listeners map[types.NamespacedName]net.Listener
	closed    bool
}

// StartServices watches the cluster's Services until ctx ends, and writes
// their addresses to file.
func StartServices(ctx context.Context, client kubernetes.Interface, file string) (*Services, error) {
	s := &Services{file: file, listeners: map[types.NamespacedName]net.Listener{}}
	factory := informers.NewSharedInformerFactory(client, 0)
	svcInf := factory.Core().V1().Services().Informer()
	sliceInf := factory.Discovery().V1().EndpointSlices().Informer()
	if err := sliceInf.AddIndexers(cache.Indexers{"service": func(obj any) ([]string, error) {
		es := obj.(*discoveryv1.EndpointSlice)
		return []string{es.Namespace + "/" + es.Labels[discoveryv1.LabelServiceName]}, nil
	}}); err != nil {
		return nil, err
	}
	s.slices = sliceInf.GetIndexer()
	_, err := svcInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { s.add(obj.(*corev1.Service)) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if svc, ok := obj.(*corev1.Service); ok {
				s.remove(types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name})
			}
		},
	})
	if err != nil {
		return nil, err
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	go func() {
		<-ctx.Done()
		s.Close()
	}()
	return s, nil
}

// Address is the listener of a Service, or "".
func (s *Services) Address(namespace, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ln, ok := s.listeners[types.NamespacedName{Namespace: namespace, Name: name}]; ok {
		return ln.Addr().String()
	}
	return ""
}

func (s *Services) add(svc *corev1.Service) {
	if svc.Namespace == "kube-system" || svc.Spec.ClusterIP == corev1.ClusterIPNone || len(svc.Spec.Ports) == 0 || (svc.Namespace == "default" && svc.Name == "kubernetes") {
		return
	}
	key := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.listeners[key] != nil {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return
	}
	s.listeners[key] = ln
	port := svc.Spec.Ports[0].Name
	go s.accept(ln, key, port)
	s.writeFile()
}

func (s *Services) remove(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ln, ok := s.listeners[key]; ok {
		_ = ln.Close()
		delete(s.listeners, key)
		s.writeFile()
	}
}

// Close stops every listener.
func (s *Services) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for k, ln := range s.listeners {
		_ = ln.Close()
		delete(s.listeners, k)
	}
}

// writeFile rewrites the address file; called with mu held.
func (s *Services) writeFile() {
	if s.file == "" {
		return
	}
	var lines []string
	for k, ln := range s.listeners {
		lines = append(lines, fmt.Sprintf("%s/%s %s", k.Namespace, k.Name, ln.Addr()))
	}
	sort.Strings(lines)
	_ = os.WriteFile(s.file, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

func (s *Services) accept(ln net.Listener, key types.NamespacedName, portName string) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go s.proxy(conn, key, portName)
	}
}

// proxy joins conn to one ready endpoint of the Service, picked at random.
func (s *Services) proxy(conn net.Conn, key types.NamespacedName, portName string) {
	defer conn.Close()
	targets := s.endpoints(key, portName)
	if len(targets) == 0 {
		return
	}
	// A pod that just stopped may still be listed: try the others.
	var up net.Conn
	for _, i := range rand.Perm(len(targets)) {
		c, err := net.DialTimeout("tcp", targets[i], time.Second)
		if err == nil {
			up = c
			break
		}
	}
	if up == nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, conn); done <- struct{}{} }()
	go func() { _, _ = io.Copy(conn, up); done <- struct{}{} }()
	<-done
}

// endpoints are the Service's ready endpoints for the port, as ip:port.
func (s *Services) endpoints(key types.NamespacedName, portName string) []string {
	objs, _ := s.slices.ByIndex("service", key.Namespace+"/"+key.Name)
	var out []string
	for _, o := range objs {
		es := o.(*discoveryv1.EndpointSlice)
		var port int32
		for _, p := range es.Ports {
			if p.Port != nil && (p.Name == nil && portName == "" || p.Name != nil && *p.Name == portName) {
				port = *p.Port
			}
		}
		if port == 0 {
			continue
		}
		for _, ep := range es.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				out = append(out, net.JoinHostPort(a, strconv.Itoa(int(port))))
			}
		}
	}
	slices.Sort(out)
	return out
}

// Wait returns once every named Service of namespace has its listener, or
// ctx ends.
func (s *Services) Wait(ctx context.Context, namespace string, names ...string) error {
	for {
		ready := true
		for _, n := range names {
			ready = ready && s.Address(namespace, n) != ""
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
