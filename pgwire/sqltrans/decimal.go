package sqltrans

import (
	"database/sql/driver"
	"math"
	"math/big"
	"strconv"
	"strings"

	"modernc.org/sqlite"
)

// Numeric values are stored as exact decimal text in columns of TEXT
// affinity (declared numeric_text) with the collation pgw_numeric, which
// orders them by value, so that comparisons, ORDER BY, indexes and
// UNIQUE treat 1.5 and 1.50 as equal while each keeps its scale.
// Arithmetic on numeric runs in the pgw_n* functions below, with the
// result scales PostgreSQL gives; they return decimal text too.

// maxNumericScale is the largest scale a division or an input keeps, as
// PostgreSQL's NUMERIC_MAX_DISPLAY_SCALE.
const maxNumericScale = 1000

// maxNumericText bounds the decimal text the functions accept, so that a
// query cannot make one value arbitrarily expensive.
const maxNumericText = 1 << 16

// decimal is an exact decimal number coef × 10^-scale, or NaN.
type decimal struct {
	coef  big.Int
	scale int32
	nan   bool
}

var bigTen = big.NewInt(10)

func pow10(n int32) *big.Int {
	return new(big.Int).Exp(bigTen, big.NewInt(int64(n)), nil)
}

// parseDecimal reads numeric input syntax: an optional sign, digits with
// an optional point, an optional exponent, or NaN; spaces around it are
// ignored.
func parseDecimal(s string) (*decimal, bool) {
	s = strings.TrimSpace(s)
	if len(s) > maxNumericText {
		return nil, false
	}
	if strings.EqualFold(s, "nan") {
		return &decimal{nan: true}, true
	}
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	mant, exp := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, exp = s[:i], s[i+1:]
		if exp == "" {
			return nil, false
		}
	}
	ip, frac, _ := strings.Cut(mant, ".")
	if ip == "" && frac == "" {
		return nil, false
	}
	for _, part := range []string{ip, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return nil, false
			}
		}
	}
	scale := len(frac)
	if exp != "" {
		e, err := strconv.Atoi(exp)
		if err != nil || e > maxNumericScale || e < -maxNumericScale {
			return nil, false
		}
		scale -= e
	}
	d := &decimal{}
	d.coef.SetString(ip+frac, 10)
	if scale < 0 {
		d.coef.Mul(&d.coef, pow10(int32(-scale)))
		scale = 0
	}
	if scale > 2*maxNumericScale {
		return nil, false
	}
	d.scale = int32(scale)
	if neg {
		d.coef.Neg(&d.coef)
	}
	return d, true
}

// decimalOf converts a value SQLite holds: an integer, a float (with the
// 15 significant digits PostgreSQL keeps when it casts float8 to
// numeric) or decimal text.
func decimalOf(v any) (*decimal, error) {
	switch x := v.(type) {
	case int64:
		d := &decimal{}
		d.coef.SetInt64(x)
		return d, nil
	case float64:
		if math.IsNaN(x) {
			return &decimal{nan: true}, nil
		}
		if math.IsInf(x, 0) {
			return nil, Errorf(CodeFeature, "cannot convert infinity to numeric")
		}
		d, _ := parseDecimal(strconv.FormatFloat(x, 'g', 15, 64))
		return d, nil
	case []byte:
		return decimalOf(string(x))
	case string:
		if d, ok := parseDecimal(x); ok {
			return d, nil
		}
		return nil, invalidText("numeric", x)
	}
	return nil, Errorf(CodeDatatypeMismatch, "cannot convert %T to numeric", v)
}

// String formats the number with exactly its scale.
func (d *decimal) String() string {
	if d.nan {
		return "NaN"
	}
	s := d.coef.String()
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if d.scale > 0 {
		if len(s) <= int(d.scale) {
			s = strings.Repeat("0", int(d.scale)-len(s)+1) + s
		}
		s = s[:len(s)-int(d.scale)] + "." + s[len(s)-int(d.scale):]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// rescaled returns d at scale, rounding half away from zero.
func (d *decimal) rescaled(scale int32) *decimal {
	r := &decimal{scale: scale, nan: d.nan}
	if d.nan {
		return r
	}
	if scale >= d.scale {
		r.coef.Mul(&d.coef, pow10(scale-d.scale))
		return r
	}
	div := pow10(d.scale - scale)
	var rem big.Int
	r.coef.QuoRem(&d.coef, div, &rem)
	if rem.Sign() != 0 && new(big.Int).Lsh(new(big.Int).Abs(&rem), 1).Cmp(div) >= 0 {
		r.coef.Add(&r.coef, big.NewInt(int64(d.coef.Sign())))
	}
	return r
}

// aligned returns a and b at their common scale.
func aligned(a, b *decimal) (*big.Int, *big.Int, int32) {
	s := max(a.scale, b.scale)
	return &a.rescaled(s).coef, &b.rescaled(s).coef, s
}

// cmp orders numbers by value; NaN equals NaN and is above every number,
// as in PostgreSQL.
func (d *decimal) cmp(o *decimal) int {
	switch {
	case d.nan && o.nan:
		return 0
	case d.nan:
		return 1
	case o.nan:
		return -1
	}
	x, y, _ := aligned(d, o)
	return x.Cmp(y)
}

func decimalAdd(a, b *decimal, sub bool) *decimal {
	if a.nan || b.nan {
		return &decimal{nan: true}
	}
	x, y, s := aligned(a, b)
	r := &decimal{scale: s}
	if sub {
		r.coef.Sub(x, y)
	} else {
		r.coef.Add(x, y)
	}
	return r
}

func decimalMul(a, b *decimal) *decimal {
	if a.nan || b.nan {
		return &decimal{nan: true}
	}
	r := &decimal{scale: a.scale + b.scale}
	r.coef.Mul(&a.coef, &b.coef)
	if r.scale > maxNumericScale {
		return r.rescaled(maxNumericScale)
	}
	return r
}

// nbaseLead returns the weight and value of the leading base-10000 digit
// of a nonzero number, as PostgreSQL's numeric format groups digits from
// the decimal point; zero gives 0, 0.
func nbaseLead(d *decimal) (weight, first int) {
	digits := new(big.Int).Abs(&d.coef).String()
	if digits == "0" {
		return 0, 0
	}
	e := len(digits) - 1 - int(d.scale) // power of ten of the leading digit
	weight = e / 4
	if e < 0 && e%4 != 0 {
		weight--
	}
	n := e - 4*weight + 1 // leading digits in that group
	v := 0
	for i := range n {
		v *= 10
		if i < len(digits) {
			v += int(digits[i] - '0')
		}
	}
	return weight, v
}

// divScale is the scale PostgreSQL gives a quotient: at least 16
// significant digits, and no less than either operand's scale.
func divScale(a, b *decimal) int32 {
	w1, f1 := nbaseLead(a)
	w2, f2 := nbaseLead(b)
	q := w1 - w2
	if f1 <= f2 {
		q--
	}
	s := int32(16 - q*4)
	s = max(s, a.scale, b.scale, 0)
	return min(s, maxNumericScale)
}

func decimalDiv(a, b *decimal) (*decimal, error) {
	if a.nan || b.nan {
		return &decimal{nan: true}, nil
	}
	if b.coef.Sign() == 0 {
		return nil, Errorf(CodeDivisionByZero, "division by zero")
	}
	rs := divScale(a, b)
	// a/b × 10^rs = a.coef × 10^(rs + b.scale - a.scale) / b.coef.
	num, den := new(big.Int).Set(&a.coef), new(big.Int).Set(&b.coef)
	if k := rs + b.scale - a.scale; k >= 0 {
		num.Mul(num, pow10(k))
	} else {
		den.Mul(den, pow10(-k))
	}
	r := &decimal{scale: rs}
	var rem big.Int
	r.coef.QuoRem(num, den, &rem)
	if rem.Sign() != 0 && new(big.Int).Lsh(new(big.Int).Abs(&rem), 1).Cmp(new(big.Int).Abs(den)) >= 0 {
		r.coef.Add(&r.coef, big.NewInt(int64(num.Sign()*den.Sign())))
	}
	return r, nil
}

func decimalMod(a, b *decimal) (*decimal, error) {
	if a.nan || b.nan {
		return &decimal{nan: true}, nil
	}
	if b.coef.Sign() == 0 {
		return nil, Errorf(CodeDivisionByZero, "division by zero")
	}
	x, y, s := aligned(a, b)
	r := &decimal{scale: s}
	r.coef.Rem(x, y)
	return r, nil
}

// compareNumericText is the pgw_numeric collation: decimal text ordered
// by value. Text that is not a number sorts after every number, by its
// bytes.
func compareNumericText(a, b string) int {
	if x, ok := splitPlain(a); ok {
		if y, ok := splitPlain(b); ok {
			return x.cmp(y)
		}
	}
	x, okx := parseDecimal(a)
	y, oky := parseDecimal(b)
	switch {
	case okx && oky:
		return x.cmp(y)
	case okx:
		return -1
	case oky:
		return 1
	}
	return strings.Compare(a, b)
}

// plainDecimal is decimal text without an exponent, split for comparing
// without allocating: the integer digits without leading zeros and the
// fraction without trailing zeros.
type plainDecimal struct {
	neg, nan bool
	ip, frac string
}

func splitPlain(s string) (plainDecimal, bool) {
	var p plainDecimal
	if s == "NaN" {
		p.nan = true
		return p, true
	}
	if s != "" && (s[0] == '-' || s[0] == '+') {
		p.neg = s[0] == '-'
		s = s[1:]
	}
	dot := -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.' && dot < 0:
			dot = i
		case c < '0' || c > '9':
			return p, false
		}
	}
	p.ip, p.frac = s, ""
	if dot >= 0 {
		p.ip, p.frac = s[:dot], s[dot+1:]
	}
	if p.ip == "" && p.frac == "" {
		return p, false
	}
	p.ip = strings.TrimLeft(p.ip, "0")
	p.frac = strings.TrimRight(p.frac, "0")
	if p.ip == "" && p.frac == "" {
		p.neg = false // -0 is 0
	}
	return p, true
}

func (p plainDecimal) cmp(q plainDecimal) int {
	switch {
	case p.nan && q.nan:
		return 0
	case p.nan:
		return 1
	case q.nan:
		return -1
	case p.neg != q.neg:
		if p.neg {
			return -1
		}
		return 1
	}
	c := len(p.ip) - len(q.ip)
	if c == 0 {
		c = strings.Compare(p.ip, q.ip)
	}
	if c == 0 {
		c = strings.Compare(p.frac, q.frac)
	}
	if p.neg {
		c = -c
	}
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}

// numericAgg is sum or avg of numeric values, usable as a window
// function too.
type numericAgg struct {
	sum decimal
	n   int64
	avg bool
}

func (g *numericAgg) Step(_ *sqlite.FunctionContext, a []driver.Value) error {
	return g.add(a[0], false)
}

func (g *numericAgg) WindowInverse(_ *sqlite.FunctionContext, a []driver.Value) error {
	return g.add(a[0], true)
}

// add counts v in (or, with remove, out of) the aggregate.
func (g *numericAgg) add(v any, remove bool) error {
	if v == nil {
		return nil
	}
	d, err := decimalOf(v)
	if err != nil {
		return udfError(err)
	}
	g.sum = *decimalAdd(&g.sum, d, remove)
	if remove {
		g.n--
	} else {
		g.n++
	}
	return nil
}

func (g *numericAgg) WindowValue(*sqlite.FunctionContext) (driver.Value, error) {
	if g.n == 0 {
		return nil, nil
	}
	if !g.avg {
		return g.sum.String(), nil
	}
	var n decimal
	n.coef.SetInt64(g.n)
	q, err := decimalDiv(&g.sum, &n)
	if err != nil {
		return nil, udfError(err)
	}
	return q.String(), nil
}

func (g *numericAgg) Final(*sqlite.FunctionContext) {}

func init() {
	sqlite.MustRegisterCollationUtf8("pgw_numeric", compareNumericText)
	for _, name := range []string{"pgw_nsum", "pgw_navg"} {
		avg := name == "pgw_navg"
		err := sqlite.RegisterFunction(name, &sqlite.FunctionImpl{NArgs: 1, Deterministic: true,
			MakeAggregate: func(sqlite.FunctionContext) (sqlite.AggregateFunction, error) {
				return &numericAgg{avg: avg}, nil
			}})
		if err != nil {
			panic(err)
		}
	}
	// fn registers a numeric function of n decimal arguments; a NULL
	// argument makes the result NULL.
	fn := func(name string, n int32, f func(d []*decimal) (driver.Value, error)) {
		sqlite.MustRegisterDeterministicScalarFunction(name, n, func(_ *sqlite.FunctionContext, a []driver.Value) (driver.Value, error) {
			ds := make([]*decimal, len(a))
			for i, v := range a {
				if v == nil {
					return nil, nil
				}
				d, err := decimalOf(v)
				if err != nil {
					return nil, udfError(err)
				}
				ds[i] = d
			}
			r, err := f(ds)
			if err != nil {
				return nil, udfError(err)
			}
			return r, nil
		})
	}
	binary := func(name string, f func(a, b *decimal) (*decimal, error)) {
		fn(name, 2, func(d []*decimal) (driver.Value, error) {
			r, err := f(d[0], d[1])
			if err != nil {
				return nil, err
			}
			return r.String(), nil
		})
	}
	binary("pgw_nadd", func(a, b *decimal) (*decimal, error) { return decimalAdd(a, b, false), nil })
	binary("pgw_nsub", func(a, b *decimal) (*decimal, error) { return decimalAdd(a, b, true), nil })
	binary("pgw_nmul", func(a, b *decimal) (*decimal, error) { return decimalMul(a, b), nil })
	binary("pgw_ndiv", decimalDiv)
	binary("pgw_nmod", decimalMod)
	fn("pgw_nneg", 1, func(d []*decimal) (driver.Value, error) {
		d[0].coef.Neg(&d[0].coef)
		return d[0].String(), nil
	})
	fn("pgw_ncmp", 2, func(d []*decimal) (driver.Value, error) {
		return int64(d[0].cmp(d[1])), nil
	})
}
