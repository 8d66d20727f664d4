"""SOQL -> SQLite compiler of the local org.

``compile_query(soql, catalog, tz, now)`` parses the subset of SOQL sfsync uses (lark grammar below),
resolves names against the Catalog and returns parameterised SQL plus a ``shape(row)`` that builds
the REST JSON record. Errors are ``SoqlError(error_code, message)`` worded as Salesforce words them,
with its "\\n<query excerpt>\\n<caret>\\nERROR at Row:r:Column:c\\n<text>" prefix where it has one.

Semantics kept from SOQL (they differ from SQL):
- a comparison with a null value is simply false, and ``!=`` / ``NOT IN`` match null values;
  so ``NOT`` negates a two-valued result (``NOT COALESCE(x, 0)``); a null boolean is false;
- AND and OR cannot be mixed without parentheses; NOT only starts a (parenthesised) condition;
- relationship paths are LEFT JOINs on the parent's Id (its primary key), so a null parent gives
  a null relationship object and null values in filters;
- relative date literals are day ranges in the org's time zone (soql_dates);
- ORDER BY sorts null values first unless told otherwise (docs: "By default, null values are
  sorted first"), in both directions.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from sfsync import API_VERSION
from sfsync.local_org import soql_dates
from sfsync.local_org.catalog import Catalog, FieldDef, ObjectDef
from sfsync.local_org.ids import normalize_id

logger = logging.getLogger(__name__)

MAX_OFFSET = 2000
MAX_INT = 2**31 - 1

GRAMMAR = r"""
start: _SELECT select_list _FROM PATH where_clause? with_clause? order_clause? limit_clause? offset_clause? for_clause?

select_list: COUNT "(" ")"              -> count_select
           | PATH ("," PATH)*           -> field_select

where_clause: _WHERE condition
?condition: or_chain | and_chain | not_expr | simple
or_chain: simple (_OR simple)+
and_chain: simple (_AND simple)+
not_expr: _NOT simple
?simple: "(" condition ")"
       | comparison
comparison: PATH CMP_OP value           -> compare
          | PATH _LIKE value            -> like
          | PATH _IN value_list         -> in_list
          | PATH _NOT _IN value_list    -> not_in_list
value_list: "(" value ("," value)* ")"
?value: STRING | NUMBER | DATETIME | DATE | TRUE | FALSE | NULL | DATE_N | PATH

with_clause: _WITH _SECURITY_ENFORCED
order_clause: _ORDER _BY order_item ("," order_item)*
order_item: PATH direction? nulls?
direction: ASC | DESC
nulls: _NULLS (FIRST | LAST)
limit_clause: _LIMIT NUMBER
offset_clause: _OFFSET NUMBER
for_clause: _FOR _UPDATE

_SELECT: "select"i
_FROM: "from"i
_WHERE: "where"i
_AND: "and"i
_OR: "or"i
_NOT: "not"i
_LIKE: "like"i
_IN: "in"i
_WITH: "with"i
_SECURITY_ENFORCED: "security_enforced"i
_ORDER: "order"i
_BY: "by"i
_NULLS: "nulls"i
_LIMIT: "limit"i
_OFFSET: "offset"i
_FOR: "for"i
_UPDATE: "update"i
COUNT: "count"i
ASC: "asc"i
DESC: "desc"i
FIRST: "first"i
LAST: "last"i
TRUE: "true"i
FALSE: "false"i
NULL: "null"i

DATETIME.4: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})/i
DATE.3: /\d{4}-\d{2}-\d{2}/
DATE_N.2: /[a-z][a-z_]*:\d+/i
NUMBER: /[+-]?(\d+(\.\d*)?|\.\d+)/
STRING: /'(\\.|[^'\\])*'/s
CMP_OP: /!=|<>|<=|>=|=|<|>/
PATH: /[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*/i

%ignore /\s+/
"""

# Basic (not contextual) lexer: SOQL keywords are reserved everywhere, so "SELECT Id, From ..."
# fails on 'From' as Salesforce's parser does.
_PARSER = Lark(GRAMMAR, parser="lalr", lexer="basic", propagate_positions=False, maybe_placeholders=False)

_NO_SUCH_COLUMN = (
    "No such column '{name}' on entity '{entity}'. If you are attempting to use a custom field, be sure to "
    "append the '__c' after the custom field name. Please reference your WSDL or the describe call for the "
    "appropriate names."
)
_BAD_RELATIONSHIP = (
    "Didn't understand relationship '{name}' in field path. If you are attempting to use a custom "
    "relationship, be sure to append the '__r' after the custom relationship name. Please reference your "
    "WSDL or the describe call for the appropriate names."
)
_BAD_TYPE = (
    "sObject type '{name}' is not supported. If you are attempting to use a custom object, be sure to append "
    "the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."
)

_TEXT_TYPES = frozenset({"string", "textarea", "email", "phone", "url", "picklist"})
_ID_TYPES = frozenset({"id", "reference"})
_NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})
# How Salesforce names a field's type in "value of filter criterion" messages.
_FILTER_TYPE_NAMES = {"boolean": "boolean", "int": "int", "date": "date", "datetime": "dateTime"}
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_WINDOW = 40  # characters of query shown on each side of the error position


class SoqlError(Exception):
    """A query Salesforce would refuse: ``error_code`` (MALFORMED_QUERY, INVALID_FIELD, ...) and its message."""

    def __init__(self, error_code: str, message: str):
        self.error_code = error_code
        self.message = message
        super().__init__(f"{error_code}: {message}")


@dataclass
class _Column:
    """One selected field: where it is in the row and where it goes in the JSON record."""

    index: int
    rel_path: tuple[tuple[str, str, int], ...]  # (relationship API name, target object, index of its Id)
    api_name: str
    type: str


@dataclass
class CompiledQuery:
    sobject: ObjectDef
    count_only: bool
    sql: str
    params: list
    count_sql: str
    count_params: list
    api_version: str = API_VERSION
    columns: list[_Column] = field(default_factory=list)
    id_index: int = 0
    # Beyond the contract (additive): the result's Ids in order (params ids_params), and the
    # selected columns of given Ids (one parameter: a JSON array of Ids), for snapshot paging.
    ids_sql: str = ""
    ids_params: list = field(default_factory=list)
    by_id_sql: str = ""

    def shape(self, row: Sequence[Any]) -> dict:
        """The REST JSON record of one result row, fields in SELECT order, relationships nested."""
        record: dict = {"attributes": self._attributes(self.sobject.api_name, row[self.id_index])}
        for col in self.columns:
            target: dict | None = record
            for rel_name, rel_type, id_index in col.rel_path:
                if rel_name not in target:
                    parent_id = row[id_index]
                    target[rel_name] = (
                        None if parent_id is None else {"attributes": self._attributes(rel_type, parent_id)}
                    )
                target = target[rel_name]
                if target is None:
                    break
            if target is not None:
                target[col.api_name] = _json_value(col.type, row[col.index])
        return record

    def _attributes(self, sobject_type: str, record_id: str) -> dict:
        return {"type": sobject_type, "url": f"/services/data/v{self.api_version}/sobjects/{sobject_type}/{record_id}"}


def _json_value(ftype: str, value: Any) -> Any:
    if value is None:
        return None
    if ftype == "datetime":
        return soql_dates.format_datetime_ms(value)
    if ftype == "boolean":
        return bool(value)
    if ftype == "int":
        return int(value)
    if ftype in ("double", "currency", "percent"):
        return float(value)
    return value


def compile_query(
    soql: str, catalog: Catalog, tz: ZoneInfo, now: dt.datetime, api_version: str = API_VERSION
) -> CompiledQuery:
    """Compile ``soql`` for the org described by ``catalog``; ``tz``/``now`` anchor relative date literals."""
    tree = _parse(soql)
    return _Compiler(soql, catalog, tz, now, api_version).compile(tree)


# ---------------------------------------------------------------------------------------------
# Errors with Salesforce's position prefix


def _row_col(query: str, index: int) -> tuple[int, int]:
    """1-based row and column of ``index`` in ``query``."""
    row = query.count("\n", 0, index) + 1
    line_start = query.rfind("\n", 0, index) + 1
    return row, index - line_start + 1


def _excerpt(query: str, caret: int) -> tuple[str, int]:
    """The part of the query Salesforce echoes around ``caret``, and the caret's offset in it.

    Salesforce shows about 40 characters each side of the error, cut at word boundaries: it starts at
    the first word beginning at or after caret-40, and ends with the last word beginning at or
    before caret+40 (or runs to the end of the query when that is within reach).
    """
    start = 0
    if caret - _WINDOW > 0:
        start = caret - _WINDOW
        if not query[start - 1].isspace():
            while start < caret and not query[start].isspace():
                start += 1
        while start < caret and query[start].isspace():
            start += 1
    end = len(query)
    limit = caret + _WINDOW
    if limit < len(query):
        end = limit
        if query[end].isspace():
            while end > caret + 1 and query[end - 1].isspace():
                end -= 1
        else:
            while end < len(query) and not query[end].isspace():
                end += 1
    return query[start:end], caret - start


def _positioned(query: str, caret: int, row: int, column: int, text: str) -> str:
    excerpt, offset = _excerpt(query, caret)
    return f"\n{excerpt}\n{' ' * offset}^\nERROR at Row:{row}:Column:{column}\n{text}"


def _error_at(query: str, index: int, code: str, text: str) -> SoqlError:
    """An error about the token starting at ``index`` (0-based)."""
    row, col = _row_col(query, index)
    return SoqlError(code, _positioned(query, index, row, col, text))


def _token_text(token: Token | None) -> str:
    if token is None or token.type == "$END":
        return "<EOF>"
    return str(token)


def _syntax_error(query: str, index: int, text: str, lexer: bool) -> SoqlError:
    """A lexer or parser error. Salesforce reports these ANTLR-style: Column is the 0-based position
    of the offending token in its line and the caret sits one character to its left (observed in
    real answers, e.g. "...LastModifiedDate, From Account" -> Column:78 with From at index 78)."""
    row, col = _row_col(query, index)
    if lexer:
        text = f"line {row}:{col - 1} {text}"
    return SoqlError("MALFORMED_QUERY", _positioned(query, max(index - 1, 0), row, col - 1, text))


def _parse(query: str) -> Tree:
    if not query.strip():
        raise SoqlError("MALFORMED_QUERY", "SOQL statements cannot be empty or null")
    try:
        return _PARSER.parse(query)
    except UnexpectedCharacters as exc:
        index = exc.pos_in_stream
        if query[index] == "'":
            # An unterminated string: the lexer runs to the end looking for the closing quote.
            text = "mismatched character '<EOF>' expecting " + "'''"
            raise _syntax_error(query, len(query), text, lexer=True) from None
        raise _syntax_error(query, index, f"no viable alternative at character '{query[index]}'", lexer=True) from None
    except (UnexpectedToken, UnexpectedEOF) as exc:
        token = getattr(exc, "token", None)
        if token is None or token.type == "$END" or token.start_pos is None:
            index = len(query)
        else:
            index = token.start_pos
        if index == len(query) - len(query.lstrip()) and index < len(query):
            # A statement that does not even start with SELECT gets no position (real answer to q=invalid).
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{_token_text(token)}'") from None
        raise _syntax_error(query, index, f"unexpected token: '{_token_text(token)}'", lexer=False) from None
    except UnexpectedInput as exc:  # pragma: no cover - lark raises one of the above for LALR
        raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{exc}'") from None


# ---------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class _Scalar:
    value: Any


@dataclass(frozen=True)
class _Range:
    start: Any
    end: Any  # exclusive


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class _Join:
    alias: str
    target: ObjectDef
    sql: str


@dataclass
class _Resolved:
    fdef: FieldDef
    owner: ObjectDef
    alias: str
    key: tuple[str, ...]  # lower-case relationship names from the root
    rel_path: list[tuple[str, ObjectDef]]  # (relationship API name, target object) from the root

    @property
    def expr(self) -> str:
        return f"{_quote(self.alias)}.{_quote(self.fdef.column)}"

    @property
    def filter_expr(self) -> str:
        # Salesforce: "If you run a query on a boolean field, null matches FALSE values" (a null
        # parent gives a null checkbox here), so filters see booleans as 0/1 only.
        if self.fdef.type == "boolean":
            return f"COALESCE({self.expr}, 0)"
        return self.expr


class _Compiler:
    def __init__(self, query: str, catalog: Catalog, tz: ZoneInfo, now: dt.datetime, api_version: str):
        self.query = query
        self.catalog = catalog
        self.tz = tz
        self.now = now
        self.api_version = api_version
        self.root: ObjectDef | None = None
        self.joins: dict[tuple[str, ...], _Join] = {}
        self.where_keys: set[tuple[str, ...]] = set()
        self.order_keys: set[tuple[str, ...]] = set()

    # -- names ----------------------------------------------------------------------------------

    def _fail(self, token: Token, code: str, text: str) -> SoqlError:
        return _error_at(self.query, token.start_pos, code, text)

    def _join(self, key: tuple[str, ...], rel: FieldDef, target: ObjectDef, parent_alias: str) -> str:
        join = self.joins.get(key)
        if join is None:
            alias = f"t{len(self.joins) + 1}"
            target_id = target.field("Id")
            id_column = target_id.column if target_id else "Id"
            sql = (
                f"LEFT JOIN {_quote(target.table)} AS {_quote(alias)} "
                f"ON {_quote(alias)}.{_quote(id_column)} = {_quote(parent_alias)}.{_quote(rel.column)}"
            )
            join = _Join(alias, target, sql)
            self.joins[key] = join
        return join.alias

    def resolve(self, token: Token) -> _Resolved:
        assert self.root is not None
        segments = str(token).split(".")
        obj = self.root
        if len(segments) > 1 and segments[0].lower() == obj.api_name.lower() and obj.relationship(segments[0]) is None:
            segments = segments[1:]  # "Account.Name FROM Account": the object's own name as prefix
        alias, key, rel_path = "t0", (), []
        for segment in segments[:-1]:
            rel = obj.relationship(segment)
            target = self.catalog.get(rel.reference_to[0]) if rel is not None and rel.reference_to else None
            if rel is None or target is None:
                raise self._fail(token, "INVALID_FIELD", _BAD_RELATIONSHIP.format(name=segment))
            key = key + (rel.relationship_name.lower(),)
            alias = self._join(key, rel, target, alias)
            rel_path.append((rel.relationship_name, target))
            obj = target
        fdef = obj.field(segments[-1])
        if fdef is None:
            raise self._fail(token, "INVALID_FIELD", _NO_SUCH_COLUMN.format(name=segments[-1], entity=obj.api_name))
        return _Resolved(fdef, obj, alias, key, rel_path)

    def _join_sql(self, keys: set[tuple[str, ...]] | None = None) -> str:
        if keys is None:
            chosen = list(self.joins.values())
        else:
            needed = {k[:i] for k in keys for i in range(1, len(k) + 1)}
            chosen = [j for k, j in self.joins.items() if k in needed]
        return "".join(" " + j.sql for j in chosen)

    # -- query ----------------------------------------------------------------------------------

    def compile(self, tree: Tree) -> CompiledQuery:
        children = tree.children
        select, object_token = children[0], children[1]
        clauses = {c.data: c for c in children[2:]}
        self.root = self.catalog.get(str(object_token))
        if self.root is None:
            raise self._fail(object_token, "INVALID_TYPE", _BAD_TYPE.format(name=str(object_token)))
        root = self.root

        count_only = select.data == "count_select"
        columns: list[_Column] = []
        select_exprs: list[str] = []
        if not count_only:
            seen: set[tuple[str, ...]] = set()
            for token in select.children:
                res = self.resolve(token)
                ident = res.key + (res.fdef.api_name.lower(),)
                if ident in seen:
                    api_path = ".".join([name for name, _ in res.rel_path] + [res.fdef.api_name])
                    raise SoqlError("INVALID_FIELD", f"duplicate field selected: {api_path}")
                seen.add(ident)
                select_exprs.append(res.expr)
                columns.append(_Column(len(select_exprs) - 1, tuple((n, o.api_name, -1) for n, o in res.rel_path),
                                       res.fdef.api_name, res.fdef.type))

        where_sql, where_params = "", []
        if "where_clause" in clauses:
            cond_sql, where_params = self.condition(clauses["where_clause"].children[0], self.where_keys)
            where_sql = f" WHERE {cond_sql}"

        order_sql = ""
        if "order_clause" in clauses:
            order_sql = " ORDER BY " + ", ".join(self.order_item(item) for item in clauses["order_clause"].children)

        limit = self._int_clause(clauses.get("limit_clause"))
        offset = self._int_clause(clauses.get("offset_clause"), capped=False)  # checked against MAX_OFFSET below
        if offset is not None and offset > MAX_OFFSET:
            raise SoqlError("NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}")
        page_sql, page_params = "", []
        if limit is not None or offset is not None:
            page_sql = " LIMIT ?"
            page_params.append(limit if limit is not None else -1)
            if offset is not None:
                page_sql += " OFFSET ?"
                page_params.append(offset)

        # Hidden columns after the selected ones: the record's Id, then each relationship's Id,
        # which tells a null parent (relationship: null) from a parent with null fields.
        id_field = root.field("Id")
        id_column = id_field.column if id_field else "Id"
        select_exprs.append(f'"t0".{_quote(id_column)}')
        id_index = len(select_exprs) - 1
        rel_id_index: dict[tuple[str, ...], int] = {}
        for key, join in self.joins.items():
            target_id = join.target.field("Id")
            select_exprs.append(f"{_quote(join.alias)}.{_quote(target_id.column if target_id else 'Id')}")
            rel_id_index[key] = len(select_exprs) - 1
        for col in columns:
            path, key = [], ()
            for name, type_name, _ in col.rel_path:
                key = key + (name.lower(),)
                path.append((name, type_name, rel_id_index[key]))
            col.rel_path = tuple(path)

        table = f'{_quote(root.table)} AS "t0"'
        count_from = f"{table}{self._join_sql(self.where_keys)}{where_sql}"
        if page_sql:
            # Salesforce's totalSize counts the rows LIMIT/OFFSET leave, so count that window.
            count_sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM {count_from}{page_sql})"
            count_params = where_params + page_params
        else:
            count_sql = f"SELECT COUNT(*) FROM {count_from}"
            count_params = list(where_params)

        if count_only:
            sql, params = count_sql, list(count_params)
        else:
            sql = f"SELECT {', '.join(select_exprs)} FROM {table}{self._join_sql()}{where_sql}{order_sql}{page_sql}"
            params = where_params + page_params
        # Paging: the Ids of the whole result (in order) at query time, then each page's rows by Id.
        id_expr = f'"t0".{_quote(id_column)}'
        ids_sql = (f"SELECT {id_expr} FROM {table}{self._join_sql(self.where_keys | self.order_keys)}"
                   f"{where_sql}{order_sql}{page_sql}")
        by_id_sql = (f"SELECT {', '.join(select_exprs)} FROM {table}{self._join_sql()} "
                     f"WHERE {id_expr} IN (SELECT value FROM json_each(?))")
        logger.debug("compiled SOQL on %s: %s", root.api_name, sql)
        return CompiledQuery(root, count_only, sql, params, count_sql, count_params, self.api_version,
                             columns, id_index, ids_sql, where_params + page_params, by_id_sql)

    def _int_clause(self, clause: Tree | None, capped: bool = True) -> int | None:
        if clause is None:
            return None
        token = clause.children[0]
        text = str(token)
        if not text.isdigit():
            raise _syntax_error(self.query, token.start_pos, f"unexpected token: '{text}'", lexer=False)
        value = int(text)
        if capped and value > MAX_INT:
            # Salesforce reads LIMIT/OFFSET as a 32-bit integer (and SQLite cannot bind a bigger one).
            raise SoqlError("NUMBER_OUTSIDE_VALID_RANGE", f"{text} is outside the valid range (0 to {MAX_INT})")
        return value

    def order_item(self, item: Tree) -> str:
        res = self.resolve(item.children[0])
        descending, nulls_first = False, True
        for part in item.children[1:]:
            word = str(part.children[0]).upper()
            if part.data == "direction":
                descending = word == "DESC"
            else:
                nulls_first = word == "FIRST"
        if res.key:
            self.order_keys.add(res.key)
        sql = res.expr + (" DESC" if descending else " ASC")
        # SQLite's own default is NULLS FIRST ascending and NULLS LAST descending; say it only
        # when it differs, so a plain "ORDER BY Id" can still walk the primary key index.
        if descending and nulls_first:
            sql += " NULLS FIRST"
        elif not descending and not nulls_first:
            sql += " NULLS LAST"
        return sql

    # -- WHERE ----------------------------------------------------------------------------------

    def condition(self, node: Tree, keys: set) -> tuple[str, list]:
        if node.data in ("and_chain", "or_chain"):
            joiner = " AND " if node.data == "and_chain" else " OR "
            parts, params = [], []
            for child in node.children:
                sql, p = self.condition(child, keys)
                parts.append(sql)
                params.extend(p)
            return "(" + joiner.join(parts) + ")", params
        if node.data == "not_expr":
            sql, params = self.condition(node.children[0], keys)
            # Salesforce's logic is two-valued: a comparison with a null is false, so its NOT is true.
            return f"(NOT COALESCE({sql}, 0))", params
        field_token = node.children[0]
        res = self.resolve(field_token)
        keys.add(res.key)
        if node.data == "compare":
            op, value = str(node.children[1]), node.children[2]
            return self._compare(res, op, self._value(res, value, like=False))
        if node.data == "like":
            value = node.children[1]
            pattern = self._value(res, value, like=True)
            return f"({res.expr} LIKE ? ESCAPE '\\')", [pattern.value]
        values = [self._value(res, v, like=False) for v in node.children[1].children]
        return self._in(res, values, negated=node.data == "not_in_list")

    def _compare(self, res: _Resolved, op: str, value: _Scalar | _Range) -> tuple[str, list]:
        expr = res.filter_expr
        if op == "<>":
            op = "!="
        if isinstance(value, _Range):
            start, end = value.start, value.end
            if op == "=":
                return f"({expr} >= ? AND {expr} < ?)", [start, end]
            if op == "!=":
                return f"({expr} IS NULL OR {expr} < ? OR {expr} >= ?)", [start, end]
            # < before the range, <= up to its end, > after it, >= from its start.
            bound = {"<": ("<", start), "<=": ("<", end), ">": (">=", end), ">=": (">=", start)}[op]
            return f"{expr} {bound[0]} ?", [bound[1]]
        if value.value is None:
            if op == "=":
                return f"{expr} IS NULL", []
            if op == "!=":
                return f"{expr} IS NOT NULL", []
            return "0", []  # an ordering comparison with null matches nothing
        if op == "!=":
            return f"({expr} IS NULL OR {expr} != ?)", [value.value]
        return f"{expr} {op} ?", [value.value]

    def _in(self, res: _Resolved, values: list, negated: bool) -> tuple[str, list]:
        expr = res.filter_expr
        scalars = [v.value for v in values if isinstance(v, _Scalar) and v.value is not None]
        has_null = any(isinstance(v, _Scalar) and v.value is None for v in values)
        ranges = [v for v in values if isinstance(v, _Range)]
        parts, params = [], []
        if scalars:
            parts.append(f"{expr} IN ({', '.join('?' * len(scalars))})")
            params.extend(scalars)
        if has_null:
            parts.append(f"{expr} IS NULL")
        for r in ranges:
            parts.append(f"({expr} >= ? AND {expr} < ?)")
            params.extend([r.start, r.end])
        positive = "(" + " OR ".join(parts) + ")"
        if not negated:
            return positive, params
        return f"(NOT COALESCE({positive}, 0))", params

    def _type_error(self, res: _Resolved, token: Token) -> SoqlError:
        ftype = res.fdef.type
        if ftype in _TEXT_TYPES or ftype in _ID_TYPES:
            text = f"must be of type {'id' if ftype in _ID_TYPES else 'string'} and should be enclosed in quotes"
        else:
            type_name = _FILTER_TYPE_NAMES.get(ftype, "double")
            text = f"must be of type {type_name} and should not be enclosed in quotes"
        return self._fail(token, "INVALID_FIELD", f"value of filter criterion for field '{res.fdef.api_name}' {text}")

    def _value(self, res: _Resolved, token: Token, like: bool) -> _Scalar | _Range:
        ftype = res.fdef.type
        kind = token.type
        if kind == "NULL":
            return _Scalar(0 if ftype == "boolean" else None)  # a null checkbox is false
        if like:
            if kind != "STRING":
                raise self._type_error(res, token)
            return _Scalar(self._string(token, like=True))
        if kind == "PATH" or kind == "DATE_N":
            return self._relative(res, token)
        if ftype in _TEXT_TYPES:
            if kind != "STRING":
                raise self._type_error(res, token)
            return _Scalar(self._string(token, like=False))
        if ftype in _ID_TYPES:
            if kind != "STRING":
                raise self._type_error(res, token)
            text = self._string(token, like=False)
            full = normalize_id(text)
            if full is None:
                raise self._fail(token, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {text}")
            return _Scalar(full)
        if ftype == "boolean":
            if kind not in ("TRUE", "FALSE"):
                raise self._type_error(res, token)
            return _Scalar(1 if kind == "TRUE" else 0)
        if ftype in _NUMBER_TYPES:
            if kind != "NUMBER":
                raise self._type_error(res, token)
            text = str(token)
            number = float(text)
            # An integer beyond SQLite's 64 bits stays a float (it compares the same).
            whole = number.is_integer() and ftype == "int" and abs(number) < 2**63
            return _Scalar(int(number) if whole else number)
        if ftype == "date":
            if kind != "DATE":
                raise self._type_error(res, token)
            try:
                return _Scalar(soql_dates.parse_date_literal(str(token)))
            except ValueError:
                raise self._type_error(res, token) from None
        if ftype == "datetime":
            if kind != "DATETIME":
                raise self._type_error(res, token)
            try:
                return _Scalar(soql_dates.parse_datetime_literal(str(token)))
            except ValueError:
                raise self._type_error(res, token) from None
        raise self._type_error(res, token)  # pragma: no cover - every describe type is handled above

    def _relative(self, res: _Resolved, token: Token) -> _Range:
        """TODAY, LAST_N_DAYS:n, ... as a range in the field's storage encoding."""
        text = str(token)
        name, _, n_text = text.partition(":")
        n = int(n_text) if n_text else None
        if not soql_dates.is_relative_literal(name, n is not None):
            raise _syntax_error(self.query, token.start_pos, f"unexpected token: '{text}'", lexer=False)
        if res.fdef.type not in ("date", "datetime"):
            raise self._type_error(res, token)
        try:
            day_range = soql_dates.relative_range(name, n, self.tz, self.now)
        except (OverflowError, ValueError):  # N beyond the calendar (years 1..9999)
            raise _syntax_error(self.query, token.start_pos, f"unexpected token: '{text}'", lexer=False) from None
        if res.fdef.type == "date":
            return _Range(*day_range.as_dates())
        return _Range(*day_range.as_ms(self.tz))

    def _string(self, token: Token, like: bool) -> str:
        """The value of a quoted SOQL string; for LIKE, a SQLite pattern with '\\' as escape."""
        raw = str(token)[1:-1]
        out: list[str] = []
        i = 0
        while i < len(raw):
            ch = raw[i]
            if ch != "\\":
                out.append(ch)
                i += 1
                continue
            nxt = raw[i + 1]
            if nxt in "%_":
                # Wildcard escapes: a literal % or _ in LIKE; elsewhere Salesforce keeps them as typed.
                out.append("\\" + nxt)
            elif nxt.lower() in _ESCAPES or nxt in _ESCAPES:
                value = _ESCAPES.get(nxt, _ESCAPES.get(nxt.lower()))
                out.append("\\\\" if like and value == "\\" else value)
            else:
                raise self._fail(
                    token, "MALFORMED_QUERY",
                    f"Invalid string literal '{raw}'. Illegal character sequence '\\{nxt}' in string literal.",
                )
            i += 2
        return "".join(out)
