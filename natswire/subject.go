package natswire

import "strings"

// subjectMatches reports whether subject matches filter, which may hold
// the wildcards * (one token) and > (one or more trailing tokens).
func subjectMatches(filter, subject string) bool {
	if filter == subject || filter == ">" {
		return filter != "" && subject != ""
	}
	for {
		fi := strings.IndexByte(filter, '.')
		si := strings.IndexByte(subject, '.')
		ft, st := filter, subject
		if fi >= 0 {
			ft = filter[:fi]
		}
		if si >= 0 {
			st = subject[:si]
		}
		if ft == ">" {
			return st != ""
		}
		if ft != "*" && ft != st || st == "" {
			return false
		}
		if fi < 0 || si < 0 {
			return fi < 0 && si < 0
		}
		filter, subject = filter[fi+1:], subject[si+1:]
	}
}

// matchesAny reports whether subject matches one of filters; no filters
// match everything.
func matchesAny(filters []string, subject string) bool {
	if len(filters) == 0 {
		return true
	}
	for _, f := range filters {
		if subjectMatches(f, subject) {
			return true
		}
	}
	return false
}

// literal reports whether a subject has no wildcards.
func literal(s string) bool {
	return !strings.ContainsAny(s, "*>")
}

// validSubject reports whether s is a well-formed subject (wildcards
// allowed when wild is set).
func validSubject(s string, wild bool) bool {
	if s == "" || strings.ContainsAny(s, " \t\r\n") {
		return false
	}
	toks := strings.Split(s, ".")
	for i, t := range toks {
		if t == "" {
			return false
		}
		if !wild && (t == "*" || t == ">") {
			return false
		}
		if t == ">" && i != len(toks)-1 {
			return false
		}
	}
	return true
}
