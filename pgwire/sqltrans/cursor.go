package sqltrans

import (
	"math"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// cursorOptHold is PostgreSQL's CURSOR_OPT_HOLD bit of DeclareCursorStmt.
const cursorOptHold = 0x20

func (t *tr) declareCursorStmt(s *pg.DeclareCursorStmt) *Stmt {
	inner := t.stmt(s.Query)
	if inner.Kind != KindQuery || !inner.Rows {
		fail(CodeFeature, "DECLARE CURSOR must be given a query that returns rows")
	}
	return &Stmt{Kind: KindDeclare, Tag: "DECLARE CURSOR", Name: s.Portalname, Hold: s.Options&cursorOptHold != 0,
		Cursor: inner, Params: inner.Params}
}

func (t *tr) fetchStmt(s *pg.FetchStmt) *Stmt {
	st := &Stmt{Kind: KindFetch, Tag: "FETCH", Name: s.Portalname, Move: s.Ismove, Count: s.HowMany}
	if s.Ismove {
		st.Tag = "MOVE"
	}
	switch s.Direction {
	case pg.FetchDirection_FETCH_FORWARD:
	case pg.FetchDirection_FETCH_RELATIVE, pg.FetchDirection_FETCH_ABSOLUTE, pg.FetchDirection_FETCH_BACKWARD:
		// TODO: scrollable cursors (issue 5).
		fail(CodeFeature, "cursor can only scan forward")
	}
	if s.HowMany == math.MaxInt64 || s.HowMany == 0 && s.Direction == pg.FetchDirection_FETCH_FORWARD {
		st.Count = -1 // ALL
	}
	return st
}
