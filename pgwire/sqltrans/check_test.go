package sqltrans

import (
	"reflect"
	"testing"
)

func TestChecks(t *testing.T) {
	for _, c := range []struct {
		sql  string
		want []Check
	}{
		{`CREATE TABLE "t" ("a" int4 CONSTRAINT "t_a_check" CHECK (("a" > 0)), "b" text DEFAULT ('check (x)'))`,
			[]Check{{"t_a_check", "CHECK (a > 0)"}}},
		{`CREATE TABLE t (a int, CHECK (a <> ')'), "CHECK" int)`,
			[]Check{{"t_check", "CHECK (a <> ')')"}}},
		{`CREATE TABLE t (a int CONSTRAINT "we""ird" CHECK ((a IN (1, 2))) NOT NULL, b int CONSTRAINT bk UNIQUE CHECK (b > a))`,
			[]Check{{`we"ird`, "CHECK (a IN (1, 2))"}, {"t_check", "CHECK (b > a)"}}},
		{`CREATE TABLE t (a int CHECK (pgw_fn(a) ==== 1))`,
			[]Check{{"t_check", "CHECK (pgw_fn(a) ==== 1)"}}},
		{`CREATE TABLE t (a int CHECK (a > 0`, nil},
		{`CREATE TABLE t (a int) /* CHECK (a > 0) */`, nil},
	} {
		if got := Checks("t", c.sql); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Checks(%s) = %v, want %v", c.sql, got, c.want)
		}
	}
}
