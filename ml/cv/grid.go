package cv

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Kind is a hyperparameter's type.
type Kind int

const (
	Float Kind = iota + 1
	Int
	String
	Bool
)

func (k Kind) String() string {
	return [...]string{"?", "float", "int", "string", "bool"}[k]
}

// Value is one typed hyperparameter value. Text is the value as written
// (its identity: configurations compare and print by Text).
type Value struct {
	Kind Kind    `json:"-"`
	Text string  `json:"text"`
	F    float64 `json:"-"`
	I    int64   `json:"-"`
	B    bool    `json:"-"`
}

// Schema declares the hyperparameters a Trainer accepts and their types.
type Schema map[string]Kind

// Axis is one hyperparameter and its candidate values.
type Axis struct {
	Name   string
	Values []Value
}

// Grid is a list of axes; its configurations are their cartesian product
// in axis order, the last axis varying fastest.
type Grid []Axis

// ParseValue parses text as kind.
func ParseValue(k Kind, text string) (Value, error) {
	v := Value{Kind: k, Text: text}
	var err error
	switch k {
	case Float:
		v.F, err = strconv.ParseFloat(text, 64)
		if err == nil && (v.F != v.F || v.F > 1e300 || v.F < -1e300) {
			err = fmt.Errorf("not finite")
		}
	case Int:
		v.I, err = strconv.ParseInt(text, 10, 64)
	case Bool:
		v.B, err = strconv.ParseBool(text)
	case String:
		if text == "" {
			err = fmt.Errorf("empty")
		}
	default:
		err = fmt.Errorf("unknown kind")
	}
	if err != nil {
		return Value{}, fmt.Errorf("cv: value %q is not a valid %s (%v)", text, k, err)
	}
	return v, nil
}

// ParseAxis parses "name=v1,v2,..." against a schema.
func ParseAxis(s string, schema Schema) (Axis, error) {
	name, vals, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" || vals == "" {
		return Axis{}, fmt.Errorf("cv: grid axis %q, expected name=v1,v2,...", s)
	}
	k, ok := schema[name]
	if !ok {
		names := make([]string, 0, len(schema))
		for n := range schema {
			names = append(names, n)
		}
		sort.Strings(names)
		return Axis{}, fmt.Errorf("cv: grid axis %q: unknown hyperparameter %q, expected one of %s", s, name, strings.Join(names, ", "))
	}
	a := Axis{Name: name}
	seen := map[string]bool{}
	for _, t := range strings.Split(vals, ",") {
		t = strings.TrimSpace(t)
		v, err := ParseValue(k, t)
		if err != nil {
			return Axis{}, fmt.Errorf("cv: grid axis %s: %w", name, err)
		}
		if seen[v.Text] {
			return Axis{}, fmt.Errorf("cv: grid axis %s: value %s listed twice", name, v.Text)
		}
		seen[v.Text] = true
		a.Values = append(a.Values, v)
	}
	return a, nil
}

// ParseGrid parses several axes; an axis name may appear once.
func ParseGrid(axes []string, schema Schema) (Grid, error) {
	var g Grid
	seen := map[string]bool{}
	for _, s := range axes {
		a, err := ParseAxis(s, schema)
		if err != nil {
			return nil, err
		}
		if seen[a.Name] {
			return nil, fmt.Errorf("cv: grid axis %s given twice", a.Name)
		}
		seen[a.Name] = true
		g = append(g, a)
	}
	return g, nil
}

// Param is one named value of a configuration.
type Param struct {
	Name  string `json:"name"`
	Value Value  `json:"value"`
}

// Config is one point of the search space: an architecture and its
// hyperparameters.
type Config struct {
	Model  string  `json:"model"`
	Params []Param `json:"params"`
}

// Get returns the named value.
func (c Config) Get(name string) (Value, bool) {
	for _, p := range c.Params {
		if p.Name == name {
			return p.Value, true
		}
	}
	return Value{}, false
}

// String is "model name=value ...".
func (c Config) String() string {
	var b strings.Builder
	b.WriteString(c.Model)
	for _, p := range c.Params {
		fmt.Fprintf(&b, " %s=%s", p.Name, p.Value.Text)
	}
	return b.String()
}

// Expand returns every configuration: models in the given order, each with
// the grid's cartesian product (last axis fastest). An empty grid gives one
// configuration per model.
func Expand(models []string, g Grid) ([]Config, error) {
	if len(models) == 0 {
		return nil, fmt.Errorf("cv: no models, expected at least one architecture")
	}
	var out []Config
	for _, m := range models {
		idx := make([]int, len(g))
		for {
			c := Config{Model: m}
			for a, i := range idx {
				c.Params = append(c.Params, Param{Name: g[a].Name, Value: g[a].Values[i]})
			}
			out = append(out, c)
			a := len(idx) - 1
			for ; a >= 0; a-- {
				idx[a]++
				if idx[a] < len(g[a].Values) {
					break
				}
				idx[a] = 0
			}
			if a < 0 {
				break
			}
		}
	}
	return out, nil
}
