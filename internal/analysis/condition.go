package analysis

import (
	"fmt"
	"math"
	"reflect"
	"strconv"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Condition is a compiled success or failure condition: an expr-lang
// expression over result that yields a boolean.
type Condition struct {
	source  string
	program *vm.Program
}

// environment is what a condition may name: result and the helpers.
type environment struct {
	Result  any                        `expr:"result"`
	AsInt   func(any) (int64, error)   `expr:"asInt"`
	AsFloat func(any) (float64, error) `expr:"asFloat"`
	IsNaN   func(any) (bool, error)    `expr:"isNaN"`
	IsInf   func(any) (bool, error)    `expr:"isInf"`
	IsNil   func(any) bool             `expr:"isNil"`
	Default func(v, def any) any       `expr:"default"`
}

func newEnvironment(result any) environment {
	return environment{Result: result, AsInt: asInt, AsFloat: asFloat, IsNaN: isNaN, IsInf: isInf, IsNil: isNil, Default: defaultValue}
}

// Compile checks and compiles a condition. A bad expression, or a name
// other than result and the helpers, is an error that names its position
// ("unexpected token ... (1:12)").
func Compile(source string) (*Condition, error) {
	program, err := expr.Compile(source, expr.Env(environment{}), expr.AsBool())
	if err != nil {
		return nil, fmt.Errorf("condition %q: %w", source, err)
	}
	return &Condition{source: source, program: program}, nil
}

// String is the condition's source.
func (c *Condition) String() string { return c.source }

// Eval runs the condition against result. A condition that fails at run
// time (a type it cannot compare, an index out of range) is an error that
// names the condition; it never panics.
func (c *Condition) Eval(result any) (ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			ok, err = false, fmt.Errorf("condition %q: %v", c.source, r)
		}
	}()
	out, err := expr.Run(c.program, newEnvironment(result))
	if err != nil {
		return false, fmt.Errorf("condition %q: %w", c.source, err)
	}
	b, isBool := out.(bool)
	if !isBool {
		return false, fmt.Errorf("condition %q: yields %T, not a boolean", c.source, out)
	}
	return b, nil
}

func asInt(v any) (int64, error) {
	switch x := v.(type) {
	case string:
		return strconv.ParseInt(x, 10, 64)
	case float64:
		return int64(x), nil
	case float32:
		return int64(x), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(rv.Uint()), nil
	}
	return 0, fmt.Errorf("asInt: %v (%T) is not a number", v, v)
}

func asFloat(v any) (float64, error) {
	switch x := v.(type) {
	case string:
		return strconv.ParseFloat(x, 64)
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint()), nil
	}
	return 0, fmt.Errorf("asFloat: %v (%T) is not a number", v, v)
}

func isNaN(v any) (bool, error) {
	f, err := asFloat(v)
	return err == nil && math.IsNaN(f), nil
}

func isInf(v any) (bool, error) {
	f, err := asFloat(v)
	return err == nil && math.IsInf(f, 0), nil
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// defaultValue is v, or def when v is nil.
func defaultValue(v, def any) any {
	if isNil(v) {
		return def
	}
	return v
}
