package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
)

// option is one setting of a command: a flag, its environment variable
// (REWIRE_ + the flag name upper-cased with - as _), and its key in the
// config file (the flag name). Precedence: flag, environment, config file,
// default.
type option struct {
	name, def, usage string
	value            *string
}

// options is the set of string settings of one command.
type options struct {
	fs   *flag.FlagSet
	opts []*option
	list map[string]*listOption
}

type listOption struct {
	values []string
}

func (l *listOption) String() string     { return strings.Join(l.values, ",") }
func (l *listOption) Set(v string) error { l.values = append(l.values, v); return nil }

func newOptions(name string) *options {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return &options{fs: fs, list: map[string]*listOption{}}
}

func (o *options) str(name, def, usage string) *string {
	opt := &option{name: name, def: def, usage: usage, value: new(string)}
	o.fs.StringVar(opt.value, name, def, usage+" (env "+envName(name)+")")
	o.opts = append(o.opts, opt)
	return opt.value
}

func (o *options) strList(name, usage string) *[]string {
	l := &listOption{}
	o.fs.Var(l, name, usage+" (repeatable; env "+envName(name)+", comma-separated)")
	o.list[name] = l
	return &l.values
}

func envName(flagName string) string {
	return "REWIRE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parse parses args, which may mix flags and positional arguments, then
// fills unset options from the environment and the config file named by
// --config or REWIRE_CONFIG. It returns the positional arguments.
func (o *options) parse(args []string) ([]string, error) {
	config := o.fs.String("config", "", "config file (TOML; keys are flag names) (env REWIRE_CONFIG)")
	var positional []string
	for {
		if err := o.fs.Parse(args); err != nil {
			return nil, err
		}
		args = o.fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	set := map[string]bool{}
	o.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	if *config == "" {
		*config = os.Getenv("REWIRE_CONFIG")
	}
	file := map[string]any{}
	if *config != "" {
		if _, err := toml.DecodeFile(*config, &file); err != nil {
			return nil, fmt.Errorf("config file: %w", err)
		}
	}
	for _, opt := range o.opts {
		if set[opt.name] {
			continue
		}
		if v, ok := os.LookupEnv(envName(opt.name)); ok {
			*opt.value = v
		} else if v, ok := file[opt.name]; ok {
			*opt.value = fmt.Sprint(v)
		}
	}
	for name, l := range o.list {
		if set[name] {
			continue
		}
		if v, ok := os.LookupEnv(envName(name)); ok && v != "" {
			l.values = strings.Split(v, ",")
		} else if v, ok := file[name]; ok {
			switch vv := v.(type) {
			case []any:
				for _, x := range vv {
					l.values = append(l.values, fmt.Sprint(x))
				}
			default:
				l.values = []string{fmt.Sprint(vv)}
			}
		}
	}
	return positional, nil
}
