package chaos_test

import (
	"sort"

	"k8s.io/apimachinery/pkg/util/intstr"
)

func intOrString(s string) intstr.IntOrString { return intstr.FromString(s) }

func sortStrings(s []string) { sort.Strings(s) }
