package cluster

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// desiredStatus is the status a kubelet would report for pod now, and when
// the pod next changes on its own (0: only when the pod object changes).
func (s *nodeSim) desiredStatus(pod *corev1.Pod) (*corev1.PodStatus, time.Duration, error) {
	now := s.clock.Now()
	st := pod.Status.DeepCopy()
	if st.PodIP == "" {
		ip, err := s.ips.allocate(pod.UID)
		if err != nil {
			return nil, 0, err
		}
		st.PodIP = ip
	} else {
		s.ips.claim(st.PodIP, pod.UID)
	}
	st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	st.HostIP = "127.0.0.1"
	st.HostIPs = []corev1.HostIP{{IP: "127.0.0.1"}}
	if st.StartTime == nil {
		t := metav1.NewTime(now)
		st.StartTime = &t
	}
	// StartTime is stored with second precision; the exact start is kept in
	// memory so that sub-second delays hold.
	started := s.startedAt(pod.UID, st.StartTime.Time, now)
	elapsed := now.Sub(started)

	restartPolicy := pod.Spec.RestartPolicy
	terminates := restartPolicy == corev1.RestartPolicyNever || restartPolicy == corev1.RestartPolicyOnFailure
	exitCode := int32(0)
	if v, ok := pod.Annotations[AnnotationExitCode]; ok {
		n, err := strconv.ParseInt(v, 10, 32)
		if err == nil {
			exitCode = int32(n)
		}
	}
	crash := pod.Annotations[AnnotationCrash] == "true"
	pullFails := pod.Annotations[AnnotationImagePull] == "fail"
	exited := terminates && elapsed >= s.opts.RunDuration
	if exited && exitCode != 0 && restartPolicy == corev1.RestartPolicyOnFailure {
		// The kubelet restarts a failed container of an OnFailure pod: the
		// same crash loop as a crashing one.
		crash = true
	}

	phase := corev1.PodRunning
	ready := false
	var requeue time.Duration
	soonest := func(d time.Duration) {
		if d > 0 && (requeue == 0 || d < requeue) {
			requeue = d
		}
	}
	statuses := make([]corev1.ContainerStatus, 0, len(pod.Spec.Containers))
	for _, c := range pod.Spec.Containers {
		cs := corev1.ContainerStatus{
			Name:        c.Name,
			Image:       c.Image,
			ImageID:     "sandbox://" + c.Image,
			ContainerID: fmt.Sprintf("sandbox://%s/%s", pod.UID, c.Name),
		}
		switch {
		case pullFails:
			phase = corev1.PodPending
			cs.ContainerID, cs.ImageID = "", ""
			cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
				Reason:  "ImagePullBackOff",
				Message: fmt.Sprintf("Back-off pulling image %q", c.Image),
			}}
		case crash:
			restarts := int32(elapsed / s.opts.CrashPeriod)
			code := exitCode
			if code == 0 {
				code = 1
			}
			cs.RestartCount = restarts
			cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
				Reason:  "CrashLoopBackOff",
				Message: fmt.Sprintf("back-off restarting failed container %s in pod %s", c.Name, pod.Name),
			}}
			if restarts > 0 {
				cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					ExitCode: code, Reason: "Error",
					StartedAt:  metav1.NewTime(started.Add(time.Duration(restarts-1) * s.opts.CrashPeriod)),
					FinishedAt: metav1.NewTime(started.Add(time.Duration(restarts) * s.opts.CrashPeriod)),
				}}
			}
			soonest(s.opts.CrashPeriod - elapsed%s.opts.CrashPeriod)
		case exited:
			reason := "Completed"
			if exitCode != 0 {
				reason = "Error"
			}
			cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: exitCode, Reason: reason,
				StartedAt:  metav1.NewTime(started),
				FinishedAt: metav1.NewTime(started.Add(s.opts.RunDuration)),
			}}
			if exitCode == 0 {
				phase = corev1.PodSucceeded
			} else {
				phase = corev1.PodFailed
			}
		default:
			cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(started)}}
			cs.Started = ptrBool(true)
			if pod.Annotations[AnnotationReady] != "false" {
				if elapsed >= s.opts.ReadyDelay {
					cs.Ready = true
				} else {
					soonest(s.opts.ReadyDelay - elapsed)
				}
			}
			if terminates {
				soonest(s.opts.RunDuration - elapsed)
			}
		}
		if cs.Started == nil {
			cs.Started = ptrBool(false)
		}
		statuses = append(statuses, cs)
	}
	containersReady := len(statuses) > 0
	for _, cs := range statuses {
		containersReady = containersReady && cs.Ready
	}
	ready = containersReady && readinessGatesPass(pod)
	st.Phase = phase
	st.ContainerStatuses = statuses

	conds := map[corev1.PodConditionType]bool{
		corev1.PodScheduled:    true,
		corev1.PodInitialized:  true,
		corev1.ContainersReady: containersReady,
		corev1.PodReady:        ready,
	}
	for _, t := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		setPodCondition(st, t, conds[t], now)
	}
	if phase != corev1.PodRunning {
		requeue = 0
	}
	return st, requeue, nil
}

func ptrBool(b bool) *bool { return &b }

// startedAt returns when the pod started: the time first seen in this
// process, or its stored StartTime after a restart.
func (s *nodeSim) startedAt(uid types.UID, stored, now time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.started[uid]; ok {
		return t
	}
	t := now
	if stored.Before(now.Add(-time.Second)) {
		t = stored
	}
	s.started[uid] = t
	return t
}

// readinessGatesPass reports whether every readiness gate of the pod has
// a True condition.
func readinessGatesPass(pod *corev1.Pod) bool {
	for _, gate := range pod.Spec.ReadinessGates {
		ok := false
		for _, c := range pod.Status.Conditions {
			if c.Type == gate.ConditionType && c.Status == corev1.ConditionTrue {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// setPodCondition sets a condition, keeping its transition time when its
// status does not change.
func setPodCondition(st *corev1.PodStatus, t corev1.PodConditionType, value bool, now time.Time) {
	status := corev1.ConditionFalse
	if value {
		status = corev1.ConditionTrue
	}
	for i := range st.Conditions {
		if st.Conditions[i].Type != t {
			continue
		}
		if st.Conditions[i].Status != status {
			st.Conditions[i].Status = status
			st.Conditions[i].LastTransitionTime = metav1.NewTime(now)
		}
		return
	}
	st.Conditions = append(st.Conditions, corev1.PodCondition{Type: t, Status: status, LastTransitionTime: metav1.NewTime(now)})
}

// ipPool hands out pod IPs from one /16 of 127.0.0.0/8. Each cluster of the
// process gets its own /16, so several clusters never share an address.
type ipPool struct {
	mu     sync.Mutex
	prefix [2]byte
	byIP   map[string]types.UID
	next   uint32
}

var (
	poolsMu   sync.Mutex
	poolsNext = 10
)

// newIPPool returns the pool of the next free /16 (127.10.0.0/16 first).
func newIPPool() *ipPool {
	poolsMu.Lock()
	defer poolsMu.Unlock()
	second := poolsNext
	poolsNext++
	if poolsNext > 250 {
		poolsNext = 10
	}
	return &ipPool{prefix: [2]byte{127, byte(second)}, byIP: map[string]types.UID{}, next: 2}
}

func (p *ipPool) allocate(uid types.UID) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for tries := 0; tries < 1<<16; tries++ {
		n := p.next
		p.next++
		if p.next >= 1<<16-1 {
			p.next = 2
		}
		if n&0xff == 0 || n&0xff == 0xff {
			continue
		}
		ip := net.IPv4(p.prefix[0], p.prefix[1], byte(n>>8), byte(n)).String()
		if _, used := p.byIP[ip]; !used {
			p.byIP[ip] = uid
			return ip, nil
		}
	}
	return "", fmt.Errorf("no free pod IP left in %d.%d.0.0/16", p.prefix[0], p.prefix[1])
}

// claim records an address found on an existing pod, for example after a
// sandbox restart.
func (p *ipPool) claim(ip string, uid types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.byIP[ip] = uid
}

func (p *ipPool) release(ip string, uid types.UID) {
	if ip == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byIP[ip] == uid {
		delete(p.byIP, ip)
	}
}
