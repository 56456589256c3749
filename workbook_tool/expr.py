"""A tiny spreadsheet expression language: one tree renders an Excel formula and computes in Python.

This is how wbtool keeps one source of truth. A scoring rule is written once as an :class:`Expr`
tree over named variables (``weight``, ``target``, ``actual``...). The writer renders it to a
formula with the variables bound to A1 references; the checker evaluates the very same tree with
the variables bound to the values read from the returned workbook. Python evaluation follows the
spreadsheet's semantics where they matter for scoring: blanks count as 0 in arithmetic, text in
arithmetic is ``#VALUE!``, IF is lazy, numeric comparisons are made at 15 significant digits (as
Excel and LibreOffice do), and ROUND rounds half away from zero after taking 15 significant digits.

Engines still differ in the last bits (Gnumeric computes in extended precision, compares exactly
and has no 15-digit step; cancellation defeats even that step). So the rules never ROUND or compare
a computed double directly: :func:`round_decimal` and :func:`settle` first round it to
``SETTLE_DIGITS`` decimals, far below any score's precision and far above float noise. Each engine,
and this evaluator, then lands on the *decimal* answer (domain.md §3): 6 × (1 − (6.392 − 3.2)/3.2)
is 0.015 → 0.02, although the double computed for it lies a hair below the half.

Only classic functions (compat.md's whitelist) can be expressed, so no ``_xlfn.`` function can slip
into a generated workbook.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Mapping, Sequence

#: Functions an expression may call; all classic, computed by Excel 2007+, WPS and LibreOffice.
FUNCTIONS = frozenset(
    {"IF", "AND", "OR", "NOT", "MIN", "MAX", "ROUND", "ISNUMBER", "SUM", "SUMIF", "LEN", "TRIM", "ABS", "COUNTIF",
     "INT", "EXACT"}
)
#: The classic-function whitelist (compat.md) that tests hold every generated formula to.
CLASSIC_FUNCTIONS = frozenset(
    {
        "IF", "AND", "OR", "NOT", "MIN", "MAX", "SUM", "SUMIF", "SUMIFS", "SUMPRODUCT", "COUNTIF",
        "COUNTIFS", "COUNTA", "INDEX", "MATCH", "ROUND", "ABS", "ISNUMBER", "ISBLANK", "ISERROR",
        "IFERROR", "LEN", "TRIM", "DATE", "TEXT",
        "INT",  # (Excel 2.0 onwards, every engine: the calendar day of a date-time)
        "EXACT",  # (likewise: code-point comparison of texts; "=" folds ＝ into = in Gnumeric)
    }
)


class XLError(str):
    """A spreadsheet error value such as ``#DIV/0!``; propagates through arithmetic like Excel's."""


VALUE = XLError("#VALUE!")
DIV0 = XLError("#DIV/0!")

Blank = None  # an empty cell


#: Decimals a computed value is settled to before it is rounded or compared (see the module doc).
SETTLE_DIGITS = 10


def xl_round(x: float, digits: int = 2) -> float:
    """Spreadsheet ROUND: 15 significant digits, then half away from zero (Excel and LibreOffice)."""
    if x == 0 or not math.isfinite(x) or abs(x) >= 1e15:
        return x  # no decimals left to round at 15 significant digits
    d = Decimal(f"{abs(x):.15g}").quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return math.copysign(float(d), x) if d != 0 else 0.0


_E48 = 1.0 / (16777216.0 * 16777216.0)


def approx_equal(a: float, b: float) -> bool:
    """LibreOffice's rtl::math::approxEqual: equal within a relative 2^-48 (Excel is similar)."""
    if a == b:
        return True
    if a == 0.0 or b == 0.0:
        return False
    d = abs(a - b)
    return d < abs(a) * _E48 and d < abs(b) * _E48


def _approx_key(x: float) -> float:
    """Criterion matching (SUMIF) at 15 significant digits."""
    return float(f"{x:.15g}")


Evaluator = Callable[[Mapping[str, Any]], Any]


class Expr:
    """Base node. Python operators build trees: ``w * a / t``, ``a >= t``, ``x & y`` (concat)."""

    def excel(self, refs: Mapping[str, str]) -> str:
        raise NotImplementedError

    def eval(self, env: Mapping[str, Any]) -> Any:
        """The value of this tree under ``env`` (variable name → value as read from a workbook)."""
        return self.compiled()(env)

    def compiled(self) -> Evaluator:
        """This tree as one Python closure, built once per node.

        Walking the tree per cell (a method call and a name dispatch per node) was half of a
        check's time; the closure does the same operations with the dispatch done in advance.
        The closures below are the only Python semantics of the language."""
        fn = self.__dict__.get("_compiled")
        if fn is None:
            fn = self.__dict__["_compiled"] = self._compile()
        return fn

    def _compile(self) -> Evaluator:
        raise NotImplementedError

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its closure (closures do not pickle; it is rebuilt on first use)."""
        return {k: v for k, v in self.__dict__.items() if k != "_compiled"}

    def variables(self) -> set[str]:
        return set()

    # arithmetic
    def __add__(self, o: Any) -> Expr: return Bin("+", self, lift(o))
    def __radd__(self, o: Any) -> Expr: return Bin("+", lift(o), self)
    def __sub__(self, o: Any) -> Expr: return Bin("-", self, lift(o))
    def __rsub__(self, o: Any) -> Expr: return Bin("-", lift(o), self)
    def __mul__(self, o: Any) -> Expr: return Bin("*", self, lift(o))
    def __rmul__(self, o: Any) -> Expr: return Bin("*", lift(o), self)
    def __truediv__(self, o: Any) -> Expr: return Bin("/", self, lift(o))
    def __rtruediv__(self, o: Any) -> Expr: return Bin("/", lift(o), self)
    # comparison (note: == builds a node, so Expr is not hashable by value)
    def __ge__(self, o: Any) -> Expr: return Bin(">=", self, lift(o))
    def __gt__(self, o: Any) -> Expr: return Bin(">", self, lift(o))
    def __le__(self, o: Any) -> Expr: return Bin("<=", self, lift(o))
    def __lt__(self, o: Any) -> Expr: return Bin("<", self, lift(o))
    def eq(self, o: Any) -> Expr: return Bin("=", self, lift(o))
    def ne(self, o: Any) -> Expr: return Bin("<>", self, lift(o))
    def __and__(self, o: Any) -> Expr: return Bin("&", self, lift(o))

    __hash__ = object.__hash__


def lift(v: Any) -> Expr:
    if isinstance(v, Expr):
        return v
    if isinstance(v, bool):
        raise TypeError("use TRUE()/FALSE() comparisons, not Python bools")
    if isinstance(v, (int, float)):
        return Num(v)
    if isinstance(v, str):
        return Str(v)
    raise TypeError(f"cannot use {v!r} in an expression")


@dataclass(eq=False)
class Num(Expr):
    value: float

    def excel(self, refs: Mapping[str, str]) -> str:
        v = self.value
        text = repr(float(v)) if not float(v).is_integer() else str(int(v))
        return f"({text})" if v < 0 else text

    def _compile(self) -> Evaluator:
        v = float(self.value)
        return lambda env: v


@dataclass(eq=False)
class Str(Expr):
    value: str

    def excel(self, refs: Mapping[str, str]) -> str:
        return '"' + self.value.replace('"', '""') + '"'

    def _compile(self) -> Evaluator:
        v = self.value
        return lambda env: v


@dataclass(eq=False)
class Var(Expr):
    """A named cell (or, for :class:`Range`, a named column of cells)."""

    name: str

    def excel(self, refs: Mapping[str, str]) -> str:
        return refs[self.name]

    def _compile(self) -> Evaluator:
        name = self.name

        def var(env: Mapping[str, Any]) -> Any:
            v = env[name]
            if v.__class__ is int:  # (a bool is not an int here: its class is bool)
                return float(v)
            return v

        return var

    def variables(self) -> set[str]:
        return {self.name}


class Range(Var):
    """A named range; only valid as an argument of SUM/SUMIF/COUNTIF. Evaluates to a list."""


_PREC = {"=": 1, "<>": 1, "<": 1, ">": 1, "<=": 1, ">=": 1, "&": 2, "+": 3, "-": 3, "*": 4, "/": 4}


def _num(v: Any) -> Any:
    """Coerce an operand for arithmetic: blank → 0, numbers pass, text → #VALUE!."""
    if isinstance(v, XLError):
        return v
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        if v == "":
            return VALUE  # ="" then used in arithmetic is #VALUE! in Excel
        try:  # Excel converts numeric text in arithmetic ("5"+1 = 6)
            return float(v.strip())
        except ValueError:
            return VALUE
    return VALUE


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return f"{v:.15g}"
    return str(v)


def _error_of(a: Any, b: Any) -> XLError | None:
    """The first of two operands that is an error value, as a spreadsheet propagates it."""
    if isinstance(a, XLError):
        return a
    return b if isinstance(b, XLError) else None


def _compare(test: Callable[[int], bool], a: Any, b: Any) -> Any:
    if a.__class__ is float and b.__class__ is float:  # the common case, first
        return test(0 if approx_equal(a, b) else (a > b) - (a < b))
    e = _error_of(a, b)
    if e is not None:
        return e
    # blank compares as 0 against numbers and as "" against text
    if a is None:
        a = "" if isinstance(b, str) else 0.0
    if b is None:
        b = "" if isinstance(a, str) else 0.0
    rank = lambda v: 2 if isinstance(v, bool) else (1 if isinstance(v, str) else 0)  # noqa: E731
    if rank(a) != rank(b):
        c = (rank(a) > rank(b)) - (rank(a) < rank(b))
    elif isinstance(a, str):
        la, lb = a.lower(), b.lower()
        c = (la > lb) - (la < lb)
    else:
        fa, fb = float(a), float(b)
        c = 0 if approx_equal(fa, fb) else (fa > fb) - (fa < fb)
    return test(c)


_COMPARISONS: dict[str, Callable[[int], bool]] = {
    "=": lambda c: c == 0, "<>": lambda c: c != 0, "<": lambda c: c < 0, ">": lambda c: c > 0,
    "<=": lambda c: c <= 0, ">=": lambda c: c >= 0}


def _add(x: float, y: float) -> float:
    # LibreOffice's approxAdd: a sum of nearly cancelling numbers is 0
    return 0.0 if ((x < 0) != (y < 0)) and x != 0 and y != 0 and approx_equal(x, -y) else x + y


def _sub(x: float, y: float) -> float:
    # LibreOffice's approxSub: likewise for a difference
    return 0.0 if ((x < 0) == (y < 0)) and x != 0 and y != 0 and approx_equal(x, y) else x - y


def _div(x: float, y: float) -> Any:
    return DIV0 if y == 0 else x / y


_ARITHMETIC: dict[str, Callable[[float, float], Any]] = {"+": _add, "-": _sub, "*": lambda x, y: x * y, "/": _div}


@dataclass(eq=False)
class Bin(Expr):
    op: str
    left: Expr
    right: Expr

    def excel(self, refs: Mapping[str, str]) -> str:
        p = _PREC[self.op]

        def side(e: Expr, right: bool) -> str:
            s = e.excel(refs)
            if isinstance(e, Bin) and (_PREC[e.op] < p or (right and _PREC[e.op] == p)):
                return f"({s})"
            return s

        return f"{side(self.left, False)}{self.op}{side(self.right, True)}"

    def _compile(self) -> Evaluator:
        left, right, op = self.left.compiled(), self.right.compiled(), self.op
        if op == "&":
            def concat(env: Mapping[str, Any]) -> Any:
                a, b = left(env), right(env)
                e = _error_of(a, b)
                return e if e is not None else _text(a) + _text(b)
            return concat
        if op in _COMPARISONS:
            test = _COMPARISONS[op]
            return lambda env: _compare(test, left(env), right(env))
        arith = _ARITHMETIC[op]

        def arithmetic(env: Mapping[str, Any]) -> Any:
            x, y = left(env), right(env)
            if x.__class__ is not float:
                x = _num(x)
                if isinstance(x, XLError):
                    return x
            if y.__class__ is not float:
                y = _num(y)
                if isinstance(y, XLError):
                    return y
            return arith(x, y)

        return arithmetic

    def variables(self) -> set[str]:
        return self.left.variables() | self.right.variables()


def _truth(v: Any) -> Any:
    if isinstance(v, XLError):
        return v
    if v is None:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v != 0
    if isinstance(v, str):
        if v.upper() in ("TRUE", "FALSE"):
            return v.upper() == "TRUE"
        return VALUE
    return VALUE


def _flatten(args: Sequence[Any]) -> list[tuple[Any, bool]]:
    """Arguments of aggregate functions, with a flag telling range members from direct values."""
    out: list[tuple[Any, bool]] = []
    for a in args:
        if isinstance(a, list):
            out.extend((v, True) for v in a)
        else:
            out.append((a, False))
    return out


def _aggregate(args: Sequence[Any], fold: Callable[[list[float]], float], empty: float) -> Any:
    nums: list[float] = []
    for v, from_range in _flatten(args):
        if isinstance(v, XLError):
            return v
        if from_range:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                nums.append(float(v))
            continue
        n = _num(v)
        if isinstance(n, XLError):
            return n
        nums.append(n)
    return fold(nums) if nums else empty


def _criterion_match(value: Any, crit: Any) -> bool:
    if isinstance(crit, str):
        return isinstance(value, str) and value.lower() == crit.lower()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _approx_key(float(value)) == _approx_key(float(crit))
    return False


def _compile_call(name: str, args: list[Expr]) -> Evaluator:
    """A function call as a closure; arguments are evaluated eagerly except IF's branches."""
    fns = [a.compiled() for a in args]
    if name == "IF":
        cond, then = fns[0], fns[1]
        other = fns[2] if len(fns) > 2 else (lambda env: False)

        def if_(env: Mapping[str, Any]) -> Any:
            c = cond(env)
            if c.__class__ is not bool:
                c = _truth(c)
                if isinstance(c, XLError):
                    return c
            return then(env) if c else other(env)

        return if_
    if name in ("SUM", "MIN", "MAX"):
        # a cell reference argument behaves like a one-cell range: text, blanks and booleans in it are ignored
        wrap = [isinstance(a, Var) for a in args]
        fold: Callable[[list[float]], float] = {
            "SUM": lambda xs: math.fsum(xs) if len(xs) > 2 else sum(xs), "MIN": min, "MAX": max}[name]

        def aggregate(env: Mapping[str, Any]) -> Any:
            vals = [f(env) for f in fns]
            vals = [[v] if w and not isinstance(v, list) else v for w, v in zip(wrap, vals)]
            return _aggregate(vals, fold, 0.0)

        return aggregate
    if name in ("AND", "OR"):
        every = name == "AND"

        def logical(env: Mapping[str, Any]) -> Any:
            result = every
            for f in fns:  # every argument counts, as in a spreadsheet: an error anywhere is the result
                t = f(env)
                if t.__class__ is not bool:
                    t = _truth(t)
                    if isinstance(t, XLError):
                        return t
                if t is not every:
                    result = not every
            return result

        return logical
    if name == "SUMIF" or name == "COUNTIF":
        return _compile_criteria(name, fns)
    if name == "EXACT":
        a, b = fns
        if isinstance(args[1], Str):  # EXACT(cell, "≥"): the common form, one comparison
            const = args[1].value

            def exact_text(env: Mapping[str, Any]) -> Any:
                x = a(env)
                if x.__class__ is str:
                    return x == const
                return x if isinstance(x, XLError) else _text(x) == const

            return exact_text

        def exact(env: Mapping[str, Any]) -> Any:
            x, y = a(env), b(env)
            e = _error_of(x, y)
            return e if e is not None else _text(x) == _text(y)

        return exact
    if name == "ROUND":
        a, b = fns

        def round_(env: Mapping[str, Any]) -> Any:
            n, d = _num(a(env)), _num(b(env))
            if isinstance(n, XLError):
                return n
            return xl_round(n, int(d))

        return round_
    one = _UNARY[name]
    f = fns[0]
    return lambda env: one(f(env))


def _not(v: Any) -> Any:
    t = _truth(v)
    return t if isinstance(t, XLError) else not t


def _isnumber(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _abs(v: Any) -> Any:
    n = _num(v)
    return n if isinstance(n, XLError) else abs(n)


def _int(v: Any) -> Any:
    n = _num(v)
    return n if isinstance(n, XLError) or not math.isfinite(n) else float(math.floor(n))


def _len(v: Any) -> Any:
    return v if isinstance(v, XLError) else float(len(_text(v)))


def _trim(v: Any) -> Any:
    return v if isinstance(v, XLError) else " ".join(_text(v).split(" ")).strip()


_UNARY: dict[str, Callable[[Any], Any]] = {"NOT": _not, "ISNUMBER": _isnumber, "ABS": _abs, "INT": _int,
                                           "LEN": _len, "TRIM": _trim}


def _compile_criteria(name: str, fns: list[Evaluator]) -> Evaluator:
    count = name == "COUNTIF"

    def criteria(env: Mapping[str, Any]) -> Any:
        vals = [f(env) for f in fns]
        crit_range, crit = vals[0], vals[1]
        sum_range = crit_range if count else vals[2]
        total = 0.0
        for i, cv in enumerate(crit_range):
            if _criterion_match(cv, crit):
                if count:
                    total += 1
                else:
                    sv = sum_range[i]
                    if isinstance(sv, XLError):
                        return sv
                    if isinstance(sv, (int, float)) and not isinstance(sv, bool):
                        total += float(sv)
        return total

    return criteria


@dataclass(eq=False)
class Call(Expr):
    name: str
    args: list[Expr]

    def __post_init__(self) -> None:
        if self.name not in FUNCTIONS:
            raise ValueError(f"{self.name} is not an allowed function")

    def excel(self, refs: Mapping[str, str]) -> str:
        return f"{self.name}(" + ",".join(a.excel(refs) for a in self.args) + ")"

    def _compile(self) -> Evaluator:
        return _compile_call(self.name, self.args)

    def variables(self) -> set[str]:
        out: set[str] = set()
        for a in self.args:
            out |= a.variables()
        return out


def _fn(name: str) -> Callable[..., Call]:
    return lambda *args: Call(name, [lift(a) for a in args])


IF = _fn("IF")
AND = _fn("AND")
OR = _fn("OR")
NOT = _fn("NOT")
MIN = _fn("MIN")
MAX = _fn("MAX")
ROUND = _fn("ROUND")
ISNUMBER = _fn("ISNUMBER")
SUM = _fn("SUM")
SUMIF = _fn("SUMIF")
COUNTIF = _fn("COUNTIF")
LEN = _fn("LEN")
TRIM = _fn("TRIM")
ABS = _fn("ABS")
INT = _fn("INT")
EXACT = _fn("EXACT")


def settle(e: Expr) -> Expr:
    """A computed value rounded to SETTLE_DIGITS decimals, for comparing at a boundary (a ratio at
    exactly 120 %, a score at exactly a band edge): the decimal answer on every engine."""
    return ROUND(e, SETTLE_DIGITS)


def round_decimal(e: Expr, digits: int) -> Expr:
    """ROUND(ROUND(x, 10), d): x.xx5 in decimals rounds up on every engine, whatever float noise
    cancellation left below the half (domain.md §3)."""
    return ROUND(settle(e), digits)


def is_blank_text(e: Expr) -> Expr:
    """True for an empty cell or one holding only spaces (what a person sees as empty)."""
    return LEN(TRIM(e)).eq(0)


def ANY_OF(e: Expr, options: Sequence[str]) -> Expr:
    """``e`` is exactly one of the texts (operators, grades, 不适用); one OR() of EXACT() calls.

    EXACT rather than "=": engines fold text differently under "=" (case everywhere; Gnumeric also
    treats the look-alike ＝ and ﹦ as =), so a look-alike operator would score on one engine and not
    on another. A look-alike is the unit's error (V003), and it scores nothing on every engine."""
    if len(options) == 1:
        return EXACT(e, options[0])
    return OR(*[EXACT(e, o) for o in options])


def render(expr: Expr, refs: Mapping[str, str]) -> str:
    return "=" + expr.excel(refs)
