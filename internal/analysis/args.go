package analysis

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// placeholder matches {{args.name}}, with or without spaces inside.
var placeholder = regexp.MustCompile(`{{\s*args\.([A-Za-z0-9_.\-]+)\s*}}`)

// Substitute replaces {{args.name}} in every string of the metric (its
// provider's query, URL, headers, body, its limits...) with the argument's
// value. A placeholder whose argument has no value is an error naming it.
// Values are inserted as text, whatever they contain: a value with quotes
// or braces cannot change the metric's structure.
func Substitute(m v1alpha1.Metric, args map[string]string) (v1alpha1.Metric, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return m, err
	}
	var missing string
	out := placeholder.ReplaceAllFunc(raw, func(match []byte) []byte {
		name := string(placeholder.FindSubmatch(match)[1])
		v, ok := args[name]
		if !ok {
			if missing == "" {
				missing = name
			}
			return match
		}
		// JSON-escape the value; it lands inside a JSON string.
		q, _ := json.Marshal(v)
		return q[1 : len(q)-1]
	})
	if missing != "" {
		return m, fmt.Errorf("metric %s: argument %q has no value", m.Name, missing)
	}
	var res v1alpha1.Metric
	if err := json.Unmarshal(out, &res); err != nil {
		return m, fmt.Errorf("metric %s: substituting arguments: %w", m.Name, err)
	}
	return res, nil
}

// SecretRef is the Secret key a secret argument's value comes from.
type SecretRef struct{ Name, Key string }

// JobSecrets keeps secret arguments out of a Job metric's spec: a
// placeholder of one in a container's env value, command or args becomes a
// reference to an environment variable read from the Secret itself
// (valueFrom.secretKeyRef, as Kubernetes intends), so the value is never
// written into the Job. A placeholder of one anywhere else in a Job metric
// is an error naming the argument. Other metrics are returned unchanged.
func JobSecrets(m v1alpha1.Metric, secrets map[string]SecretRef) (v1alpha1.Metric, error) {
	if m.Provider.Job == nil || len(secrets) == 0 {
		return m, nil
	}
	m = *m.DeepCopy()
	pod := &m.Provider.Job.Spec.Template.Spec
	for _, list := range [][]corev1.Container{pod.InitContainers, pod.Containers} {
		for i := range list {
			secretEnv(&list[i], secrets)
		}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return m, err
	}
	for _, match := range placeholder.FindAllSubmatch(raw, -1) {
		if name := string(match[1]); secrets[name] != (SecretRef{}) {
			return m, fmt.Errorf("metric %s: argument %q comes from a Secret: in a Job metric it may be used only in a container's env, command or args, where it is passed from the Secret as an environment variable", m.Name, name)
		}
	}
	return m, nil
}

// secretEnv rewrites one container's secret placeholders.
func secretEnv(c *corev1.Container, secrets map[string]SecretRef) {
	used := map[string]bool{}
	rewrite := func(s string) string {
		return placeholder.ReplaceAllStringFunc(s, func(match string) string {
			name := placeholder.FindStringSubmatch(match)[1]
			if _, ok := secrets[name]; !ok {
				return match
			}
			used[name] = true
			return "$(" + secretEnvName(name) + ")"
		})
	}
	for i := range c.Env {
		e := &c.Env[i]
		if sub := placeholder.FindStringSubmatch(e.Value); sub != nil && sub[0] == e.Value {
			if ref, ok := secrets[sub[1]]; ok {
				e.Value = ""
				e.ValueFrom = secretSource(ref)
				continue
			}
		}
		e.Value = rewrite(e.Value)
	}
	for i := range c.Command {
		c.Command[i] = rewrite(c.Command[i])
	}
	for i := range c.Args {
		c.Args[i] = rewrite(c.Args[i])
	}
	if len(used) == 0 {
		return
	}
	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	env := make([]corev1.EnvVar, 0, len(names)+len(c.Env))
	for _, n := range names {
		// First, so that later env values can refer to them.
		env = append(env, corev1.EnvVar{Name: secretEnvName(n), ValueFrom: secretSource(secrets[n])})
	}
	c.Env = append(env, c.Env...)
}

func secretSource(ref SecretRef) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: ref.Name}, Key: ref.Key}}
}

// secretEnvName is the environment variable a secret argument is passed
// in: RAMP_SECRET_ and its name in capitals, other characters as _.
func secretEnvName(arg string) string {
	b := []byte(strings.ToUpper(arg))
	for i, c := range b {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			b[i] = '_'
		}
	}
	return "RAMP_SECRET_" + string(b)
}
