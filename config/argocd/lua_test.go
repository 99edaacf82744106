package argocd_test

import (
	"encoding/json"
	"fmt"
	"math"

	lua "github.com/yuin/gopher-lua"
)

// newLua is an interpreter with the libraries Argo CD's scripts use (base,
// table, string, math, os), and obj set to the object, as Argo CD runs a
// resource customization.
func newLua(obj map[string]any) *lua.LState {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}, {lua.OsLibName, lua.OpenOs}} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	L.SetGlobal("obj", toLua(L, obj))
	return L
}

// run runs script on obj and returns what it returns, as JSON values.
func run(script string, obj map[string]any) (any, error) {
	L := newLua(obj)
	defer L.Close()
	if err := L.DoString(script); err != nil {
		return nil, err
	}
	ret := L.Get(-1)
	return fromLua(ret, nil), nil
}

// runAction runs an action.lua and returns the changed object. Lists that
// come back empty are lists again where the object had a list.
func runAction(script string, obj map[string]any) (map[string]any, error) {
	L := newLua(obj)
	defer L.Close()
	if err := L.DoString(script); err != nil {
		return nil, err
	}
	out, ok := fromLua(L.Get(-1), obj).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the action returned %s, not the object", L.Get(-1).Type())
	}
	return out, nil
}

func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case json.Number:
		f, _ := v.Float64()
		return lua.LNumber(f)
	case []any:
		t := L.NewTable()
		for _, e := range v {
			t.Append(toLua(L, e))
		}
		return t
	case map[string]any:
		t := L.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	}
	panic(fmt.Sprintf("toLua: %T", v))
}

// fromLua turns a Lua value into JSON values; orig, the value it came
// from, tells an empty list from an empty map.
func fromLua(v lua.LValue, orig any) any {
	switch v := v.(type) {
	case *lua.LNilType:
		return nil
	case lua.LBool:
		return bool(v)
	case lua.LString:
		return string(v)
	case lua.LNumber:
		if f := float64(v); f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f)
		}
		return float64(v)
	case *lua.LTable:
		if n := v.MaxN(); n > 0 {
			origList, _ := orig.([]any)
			out := make([]any, 0, n)
			for i := 1; i <= n; i++ {
				var o any
				if i-1 < len(origList) {
					o = origList[i-1]
				}
				out = append(out, fromLua(v.RawGetInt(i), o))
			}
			return out
		}
		origMap, _ := orig.(map[string]any)
		out := map[string]any{}
		v.ForEach(func(k, e lua.LValue) {
			key := k.String()
			out[key] = fromLua(e, origMap[key])
		})
		if _, wasList := orig.([]any); wasList && len(out) == 0 {
			return []any{}
		}
		return out
	}
	return v.String()
}
