package validation

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/rampdev/ramp/api/v1alpha1"
	"github.com/rampdev/ramp/internal/analysisrun"
)

var percentRE = regexp.MustCompile(`^[0-9]+%$`)

// argRE matches a value that is an argument placeholder, resolved only when
// the run is created.
var argRE = regexp.MustCompile(`^\{\{\s*args\.[A-Za-z0-9_.-]+\s*\}\}$`)

// duration checks a Go duration string such as 30s or 1h30m.
func duration(d v1alpha1.DurationString, path *field.Path) field.ErrorList {
	if d == "" {
		return nil
	}
	if _, err := time.ParseDuration(string(d)); err != nil {
		return field.ErrorList{field.Invalid(path, string(d), "must be a duration such as 30s, 5m or 1h30m")}
	}
	return nil
}

// pauseDuration checks a pause step's duration: a number of seconds, or a
// duration string.
func pauseDuration(d *intstr.IntOrString, path *field.Path) field.ErrorList {
	if d == nil {
		return nil
	}
	if d.Type == intstr.Int {
		if d.IntVal < 0 {
			return field.ErrorList{field.Invalid(path, d.IntVal, "must be a non-negative number of seconds")}
		}
		return nil
	}
	if n, err := strconv.ParseInt(d.StrVal, 10, 32); err == nil {
		if n < 0 {
			return field.ErrorList{field.Invalid(path, d.StrVal, "must be a non-negative number of seconds")}
		}
		return nil
	}
	if v, err := time.ParseDuration(d.StrVal); err != nil || v < 0 {
		return field.ErrorList{field.Invalid(path, d.StrVal, "must be a number of seconds or a duration such as 30s, 5m or 1h")}
	}
	return nil
}

// intOrPercent checks maxSurge-style values: a non-negative integer or a
// percentage. It reports whether the value is zero.
func intOrPercent(v *intstr.IntOrString, path *field.Path) (zero bool, errs field.ErrorList) {
	if v == nil {
		return false, nil
	}
	if v.Type == intstr.Int {
		if v.IntVal < 0 {
			return false, field.ErrorList{field.Invalid(path, v.IntVal, "must be a non-negative integer or a percentage such as 25%")}
		}
		return v.IntVal == 0, nil
	}
	if !percentRE.MatchString(v.StrVal) {
		return false, field.ErrorList{field.Invalid(path, v.StrVal, "must be a non-negative integer or a percentage such as 25%")}
	}
	return v.StrVal == "0%" || strings.Trim(strings.TrimSuffix(v.StrVal, "%"), "0") == "", nil
}

// intOrArg reads a metric limit or count: an integer, a numeric string, or
// an argument placeholder (known = false). It checks the value is >= min.
func intOrArg(v *intstr.IntOrString, min int64, path *field.Path) (n int64, known bool, errs field.ErrorList) {
	if v == nil {
		return 0, false, nil
	}
	if v.Type == intstr.Int {
		n = int64(v.IntVal)
	} else {
		s := strings.TrimSpace(v.StrVal)
		if argRE.MatchString(s) {
			return 0, false, nil
		}
		var err error
		n, err = strconv.ParseInt(s, 10, 32)
		if err != nil {
			return 0, false, field.ErrorList{field.Invalid(path, v.StrVal, "must be an integer or an argument such as {{args.count}}")}
		}
	}
	if n < min {
		return n, true, field.ErrorList{field.Invalid(path, n, fmt.Sprintf("must be at least %d", min))}
	}
	return n, true, nil
}

// nonNegative reports a negative *int32.
func nonNegative(v *int32, path *field.Path) field.ErrorList {
	if v != nil && *v < 0 {
		return field.ErrorList{field.Invalid(path, *v, "must be greater than or equal to 0")}
	}
	return nil
}

// fieldPath checks a fieldRef path: downward-API style metadata, or a path
// under metadata, spec or status (the one parser the controller resolves
// paths with).
func fieldPath(p string, path *field.Path) field.ErrorList {
	if p == "" {
		return field.ErrorList{field.Required(path, "a field path such as metadata.name or metadata.labels['app']")}
	}
	if _, err := analysisrun.FieldSteps(p); err != nil {
		return field.ErrorList{field.Invalid(path, p, "must be a path under metadata, spec or status, such as metadata.labels['app'] or status.alb.canaryTargetGroup.fullName: "+err.Error())}
	}
	return nil
}

// dryRunAndRetention checks dryRun and measurementRetention entries; metrics
// is the set of known metric names (nil when templates may add more).
func dryRunAndRetention(dryRun []v1alpha1.DryRun, retention []v1alpha1.MeasurementRetention, metrics map[string]bool, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, d := range dryRun {
		p := path.Child("dryRun").Index(i).Child("metricName")
		switch {
		case d.MetricName == "":
			errs = append(errs, field.Required(p, "a metric name, or * for all"))
		case d.MetricName != "*" && metrics != nil && !metrics[d.MetricName]:
			errs = append(errs, field.NotFound(p, d.MetricName))
		}
	}
	for i, r := range retention {
		p := path.Child("measurementRetention").Index(i)
		if r.MetricName == "" {
			errs = append(errs, field.Required(p.Child("metricName"), "a metric name or a regular expression"))
		} else if _, err := regexp.Compile(r.MetricName); err != nil {
			errs = append(errs, field.Invalid(p.Child("metricName"), r.MetricName, "must be a valid regular expression: "+err.Error()))
		}
		if r.Limit < 0 {
			errs = append(errs, field.Invalid(p.Child("limit"), r.Limit, "must be greater than or equal to 0"))
		}
	}
	return errs
}

// nameSet checks that the names of a list are set and unique.
type nameSet map[string]bool

func (s nameSet) check(name string, path *field.Path, what string) field.ErrorList {
	switch {
	case name == "":
		return field.ErrorList{field.Required(path, what)}
	case s[name]:
		return field.ErrorList{field.Duplicate(path, name)}
	}
	s[name] = true
	return nil
}
