"""The gate's fast path: statements that run inside the socket callbacks, with no task switch and no planning.

A SELECT whose plan relays the client's statement unchanged to one shard picked by a functional unique vindex
on one literal or parameter (or to the shard of an unsharded keyspace, or of a reference table) needs only the
vindex, a key-range lookup and an idle pooled connection to the shard's tablet: the statement (text, or the
prepared statement the backend connection already holds) goes to the shard, and the shard's packets go back to
the client untouched.

A SELECT whose plan relays the client's statement to every shard of a scatter route, with nothing to merge
(no ORDER BY, LIMIT, aggregate or DISTINCT), goes to an idle pooled connection of each shard at once outside
transactions; the shards' result sets are joined undecoded once the last is in (``FastScatter``). One with
something to merge goes out the same way with the route's own query (weight strings added, aggregates split),
and the plan's row operators above the route (``RowOperator``) finish the decoded results in the last shard's
callback (``FastMerge``).

The fast path learns from the ordinary path. After the ordinary path relayed a SELECT to its shards, ``learn``
records whether its statement shape (``planner.shape``; for a prepared statement, its text) can take the fast
path for that session target, and where the vindex value sits. A shape is accepted only if the planner's
normalizer replaces exactly the literals the shape masks, so every statement of that shape has the same plan,
and only if the route's vindex value is one of them as written (or a parameter). Entries are valid for one
VSchema/serving-graph version.

Statements that arrive while others are under way share a backend connection, up to ``pipeline_depth`` at a
time: each is written behind the ones before it without waiting (MySQL answers a connection's commands in
order), so the shard's MariaDB thread finds the next statement already read instead of sleeping and being woken
for each one, and the gate writes and wakes less. On this project's 2-core machine that is what brings the
gate from about a third to about half of direct MariaDB's point-select rate (docs/benchmarks.md). The price is
that a statement waits for the ones ahead of it on the connection; so statements that may wait (row locks,
SLEEP, named locks, replication positions) are never pipelined, nor are routes while their statements take more
than ``PIPELINE_MAX_SERVICE`` on the shard on average, and ``pipeline_depth`` 1 turns pipelining off.

Inside a transaction a statement runs on the connection the transaction holds on its shard, exclusively; the
first one on a shard takes an idle pooled connection and is sent right behind the transaction's BEGIN. Plain
BEGIN, COMMIT and ROLLBACK are answered here too: BEGIN only marks the session (shards join the transaction
with their first statement, as in Vitess); COMMIT is sent on the transaction's connections shard after shard,
each once the one before has committed (a failure part-way names the shards committed), and ROLLBACK on all of
them at once.

Whatever is unusual leaves the statement to the ordinary path, which gives the same answer: autocommit off
outside a transaction, a shard target (``USE ks:-80``), a session with a reserved connection (temporary
tables), session settings no idle pooled connection carries, a
primary failover being buffered, no idle pooled connection, a value the vindex maps to no single keyspace id;
a transaction with savepoints, or one that a new shard would take past ``transaction_mode`` single, or one
with consistent-lookup pre/post transactions when it ends; BEGIN inside a transaction (it commits the open one
first), or with characteristics (READ ONLY, ...).
"""

from __future__ import annotations

import re
import time
from bisect import bisect_right
from typing import TYPE_CHECKING, Any, Final

from shardline.errors import ShardlineError
from shardline.gate.engine.base import RowOperator
from shardline.gate.engine.evalengine import BindVar
from shardline.gate.engine.route import Route
from shardline.gate.engine.routing import RouteVariant
from shardline.gate.planner.normalize import literal_spans, shape_bind_vars
from shardline.gate.planner.shape import Shape, statement_shape
from shardline.gate.pool import DEFAULT_PIPELINE_DEPTH
from shardline.gate.querylog import QueryLogEntry
from shardline.gate.scatter_conn import ScatterConn, concatenated, partial_commit_error
from shardline.gate.session import ShardSession, TransactionMode
from shardline.mysql.binary import retarget_execute
from shardline.mysql.framing import split_packets
from shardline.mysql.resultset import decode_responses
from shardline.sqltypes import Result
from shardline.vindexes.base import FunctionalVindex

if TYPE_CHECKING:
    from collections.abc import Callable

    from shardline.gate.engine.bindvars import Literal
    from shardline.gate.engine.vcursor import ShardTarget
    from shardline.gate.metrics import GateMetrics, LatencyHistogram
    from shardline.gate.planner import Plan
    from shardline.gate.pool import PooledConnection
    from shardline.gate.prepared import PreparedQuery
    from shardline.gate.querylog import QueryLog
    from shardline.gate.session import Session
    from shardline.gate.srvtopo import ServingGraph
    from shardline.gate.tablet_gateway import TabletGateway
    from shardline.mysql.server import ServerConnection
    from shardline.mysql.server_protocol import ServerStatement

DEFAULT_CAPACITY: Final = 10_000
# Longer text statements (bulk INSERTs, long IN lists) are not shaped: the scan costs about 0.03 µs a character
# and what the fast path learns is short.
MAX_STATEMENT_LENGTH: Final = 4096
# A route whose statements take longer than this on average (service time, queueing excluded) is not pipelined
# while that lasts: it would hold up the statements behind it.
PIPELINE_MAX_SERVICE: Final = 0.002
_SERVICE_WEIGHT: Final = 0.05  # of the latest statement in the route's moving average
# Statements that may wait (row locks, sleeps, named locks, replication positions, sequences) or that leave
# state on the backend connection are never pipelined.
_MAY_WAIT: Final = re.compile(
    r"(?i)\bFOR\s+UPDATE\b|\bLOCK\s+IN\s+SHARE\s+MODE\b|\bFOR\s+SHARE\b|\bINTO\b|:="
    r"|\b(?:SLEEP|BENCHMARK|GET_LOCK|RELEASE_LOCK|RELEASE_ALL_LOCKS|IS_FREE_LOCK|IS_USED_LOCK|MASTER_POS_WAIT"
    r"|MASTER_GTID_WAIT|WAIT_FOR_EXECUTED_GTID_SET|NEXTVAL|LASTVAL|SETVAL)\s*\(")
_QUERY: Final = b"\x03"
_FIXED_SHARD: Final = (RouteVariant.UNSHARDED, RouteVariant.REFERENCE)
# The transaction statements answered here, as clients write them (upper-cased, trailing ';' and blanks
# dropped), by the plan type the ordinary path reports for them.
_TRANSACTION_STATEMENTS: Final = {
    b"BEGIN": "BEGIN", b"BEGIN WORK": "BEGIN", b"START TRANSACTION": "BEGIN",
    b"COMMIT": "COMMIT", b"COMMIT WORK": "COMMIT", b"ROLLBACK": "ROLLBACK", b"ROLLBACK WORK": "ROLLBACK",
}
_MAX_TRANSACTION_STATEMENT: Final = max(map(len, _TRANSACTION_STATEMENTS)) + 8


class FastRoute:
    """How statements of one shape (or one prepared statement) reach their shard for one session target: the
    keyspace's serving shards for the target's tablet type, as of VSchema/serving-graph ``version``, and either
    the vindex and the position of its value among the literals (parameters), or no vindex (the first shard)."""

    __slots__ = ("plan_type", "vindex", "value_index", "version", "shards", "starts", "ends", "latency",
                 "shard_latency", "pipelinable", "service", "scatter", "merge")

    def __init__(self, plan_type: str, vindex: FunctionalVindex | None, value_index: int, version: int,
                 shards: list[ShardTarget], latency: LatencyHistogram, shard_latency: list[LatencyHistogram],
                 pipelinable: bool, scatter: bool = False, merge: FastMerge | None = None) -> None:
        self.scatter = scatter  # its statements go to every shard, their rows relayed one shard after the other
        self.merge = merge  # or, for a scatter route the gate must finish, how the shards' rows are merged
        self.pipelinable = pipelinable  # its statements cannot wait on the shard (locks, sleeps, ...)
        self.service = 0.0  # moving average of its statements' time on the shard, queueing excluded
        self.plan_type = plan_type
        self.vindex = vindex
        self.value_index = value_index
        self.version = version
        self.shards = shards
        self.starts = [shard.key_range.start for shard in shards]
        self.ends = [shard.key_range.end for shard in shards]  # b"": unbounded
        self.latency = latency
        self.shard_latency = shard_latency

    @property
    def pipelined(self) -> bool:
        """Whether its statements may share a backend connection with others now (see FastPath)."""
        return self.pipelinable and self.service <= PIPELINE_MAX_SERVICE

    def shard_index(self, values: list[Any]) -> int:
        """The position in ``shards`` of the shard for these values; -1 where the ordinary path must decide
        (e.g. a value that maps to no keyspace id)."""
        if self.vindex is None:
            return 0 if self.shards else -1
        try:
            keyspace_id = self.vindex.map((values[self.value_index],))[0]
        except ShardlineError:
            return -1
        if type(keyspace_id) is not bytes:
            return -1
        index = bisect_right(self.starts, keyspace_id) - 1
        if index < 0:
            return -1
        end = self.ends[index]
        return index if not end or keyspace_id < end else -1



class FastMerge:
    """A scatter route whose shards cannot answer with the client's text alone: the route's own query (weight
    strings added, LIMIT pushed down, aggregates split) and the row operators above it (``RowOperator``:
    merge-sort, aggregate, DISTINCT, LIMIT, helper columns dropped), as the ordinary path runs them, applied
    to the shards' decoded results in the last shard's socket callback."""

    __slots__ = ("route", "operators", "literals")

    def __init__(self, route: Route, operators: list[RowOperator], literals: dict[str, Any]) -> None:
        self.route = route
        self.operators = operators  # from the plan's root down to the route's parent
        self.literals = literals  # a prepared statement's literals, bound beside its parameters

    def bind_chain(self, bind_vars: dict[str, Any]) -> list[dict[str, Any]]:
        """The bind variables each operator runs with, root first, and last the route's."""
        chain = [bind_vars]
        for operator in self.operators:
            bind_vars = operator.input_bind_vars(bind_vars)
            chain.append(bind_vars)
        return chain

    def payload(self, chain: list[dict[str, Any]]) -> bytes:
        """The COM_QUERY payload every shard runs."""
        return _QUERY + self.route.query.render(chain[-1]).encode("utf-8", "surrogateescape")

    def result(self, responses: list[bytes], chain: list[dict[str, Any]]) -> Result:
        """The client's result from the shards' responses (in shard order)."""
        result = self.route.combine([decode_responses(split_packets(response))[0][0] for response in responses])
        for i in range(len(self.operators) - 1, -1, -1):
            result = self.operators[i].finish(result, chain[i])
        return result


class FastPath:
    """The learned routes of one gate, and the sending of statements along them."""

    def __init__(self, serving: ServingGraph, gateway: TabletGateway, metrics: GateMetrics, querylog: QueryLog,
                 capacity: int = DEFAULT_CAPACITY, pipeline_depth: int = DEFAULT_PIPELINE_DEPTH) -> None:
        self.serving = serving
        self.gateway = gateway
        self.metrics = metrics
        self.querylog = querylog
        self.capacity = capacity
        self.pipeline_depth = pipeline_depth
        # (kind, text, target) -> the route, or the version at which the statement was found not to qualify
        self.routes: dict[tuple[Any, ...], FastRoute | int] = {}

    # -- running -----------------------------------------------------------------------------------------

    def run_query(self, session: Session, body: bytes, sink: FastQuery) -> bool:
        """COM_QUERY ``body`` sent along its shape's route; False (nothing sent) if it takes the ordinary path."""
        if len(body) > MAX_STATEMENT_LENGTH:
            return False
        if len(body) <= _MAX_TRANSACTION_STATEMENT:
            statement = _transaction_statement(body)
            if statement is not None:
                return self._run_transaction_statement(session, statement, sink)
        sql = body.decode("utf-8", "surrogateescape")
        shaped = statement_shape(sql)
        sink.shaped = (sql, shaped)  # the ordinary path reuses it if this declines
        shape, values, spans = shaped
        route = self._learned(session, ("q", shape, session.target))
        if route is not None and route.scatter:
            if route.merge is not None:
                bind_vars: dict[str, Any] = shape_bind_vars(sql, values, spans)
                return self._run_merge(session, sql, route, route.merge, bind_vars, False, sink)
            return self._run_scatter(session, sql, route, _query_payloads(_QUERY + body), sink)
        if route is None:
            return False
        found = self._place(session, route, values)
        if found is None:
            return False
        index, pooled, opens = found
        return sink.send(session, sql, pooled, opens, _QUERY + body, route, index)

    def run_prepared(self, session: Session, statement: ServerStatement, body: bytes, params: list[Any],
                     sink: FastQuery) -> bool:
        """COM_STMT_EXECUTE ``body`` of the client's ``statement`` with its decoded ``params``; False (nothing
        sent) if it takes the ordinary path."""
        sql = statement.sql
        if len(sql) <= _MAX_TRANSACTION_STATEMENT:
            transaction_statement = _transaction_statement(sql.encode("utf-8", "surrogateescape"))
            if transaction_statement is not None:
                return self._run_transaction_statement(session, transaction_statement, sink)
        route = self._learned(session, ("p", sql, session.target))
        if route is not None and route.scatter:
            merge = route.merge
            if merge is not None:
                bind_vars: dict[str, Any] = {f"p{i}": value for i, value in enumerate(params, 1)}
                bind_vars.update(merge.literals)
                return self._run_merge(session, sql, route, merge, bind_vars, True, sink)
            return self._run_scatter(session, sql, route, _execute_payloads(statement, body), sink)
        if route is None:
            return False
        found = self._place(session, route, params)
        if found is None:
            return False
        index, pooled, opens = found
        backend_statement = pooled.prepared.get(sql)
        if backend_statement is None:  # the ordinary path prepares it on the connections it uses
            if opens or not _holds_transaction(session):
                pooled.release()
            return False
        payload = retarget_execute(body, backend_statement.id, statement.param_count, statement.bound_types)
        return sink.send(session, sql, pooled, opens, payload, route, index)

    def _run_transaction_statement(self, session: Session, statement: str, sink: FastQuery) -> bool:
        """BEGIN, COMMIT or ROLLBACK; False where the ordinary path must run it (see the module's text)."""
        if statement == "BEGIN":
            if session.in_transaction:
                return False
            session.in_transaction = True
            session.begin_statement = "BEGIN"
            sink.answer_ok(session, statement)
            return True
        if session.pre_sessions or session.post_sessions or session.reserved_sessions:
            return False
        if not session.shard_sessions:  # nothing reached a shard: the transaction ends at the gate
            ScatterConn.release_all(session)
            sink.answer_ok(session, statement)
            return True
        shard_sessions = list(session.shard_sessions.values())
        if any(_busy_or_lost(shard_session) for shard_session in shard_sessions):
            return False
        return sink.end_transaction(session, statement, shard_sessions)

    def _learned(self, session: Session, key: tuple[Any, ...]) -> FastRoute | None:
        """The learned route of ``key`` if the session may take the fast path and the route is current."""
        if not _eligible(session):
            return None
        route = self.routes.get(key)
        if type(route) is not FastRoute or route.version != self.serving.vschema_version:
            return None
        return route

    def _place(self, session: Session, route: FastRoute,
               values: list[Any]) -> tuple[int, PooledConnection, bool] | None:
        """The position of the shard ``values`` go to on ``route``, a connection to that shard and whether the
        statement opens the session's transaction there; None where the statement takes the ordinary path."""
        index = route.shard_index(values)
        if index < 0:
            return None
        pooled, opens = self._connection(session, route, index)
        if pooled is None:
            return None
        return index, pooled, opens

    def _run_merge(self, session: Session, sql: str, route: FastRoute, merge: FastMerge,
                   bind_vars: dict[str, Any], binary: bool, sink: FastQuery) -> bool:
        """A statement of a scatter route whose rows the gate merges (``FastMerge``); False where the ordinary
        path must run it (it then also gives the error of a bad bind value)."""
        try:
            chain = merge.bind_chain(bind_vars)
            payload = merge.payload(chain)
        except ShardlineError:
            return False
        return self._run_scatter(session, sql, route, _query_payloads(payload), sink, chain, binary)

    def _run_scatter(self, session: Session, sql: str, route: FastRoute,
                     payload: Callable[[PooledConnection], bytes | None], sink: FastQuery,
                     chain: list[dict[str, Any]] | None = None, binary: bool = False) -> bool:
        """A statement of a scatter route on every shard at once: outside transactions on idle pooled
        connections, inside one on the connections the transaction already holds on every shard (opening it on
        a shard is the ordinary path's work); False (nothing sent) where the ordinary path must run it.
        ``chain``: for a merged route, its bind variables (``FastMerge.bind_chain``); ``binary``: the client's
        statement is a prepared one, answered with binary rows."""
        reserved = _holds_transaction(session)
        if session.in_transaction and not reserved:
            return False
        tablet_type = session.target.tablet_type
        lent: list[PooledConnection] = []
        payloads: list[bytes] = []
        for shard in route.shards:
            if reserved:
                shard_session = session.shard_sessions.get((shard.keyspace, shard.name))
                pooled = None if shard_session is None or _busy_or_lost(shard_session) else shard_session.connection
            else:
                pooled = self.gateway.try_connection(shard, tablet_type, session.settings_sql)
            if pooled is None:
                break
            lent.append(pooled)
            data = payload(pooled)
            if data is None:  # a backend connection without the prepared statement: the ordinary path prepares
                break
            payloads.append(data)
        if len(payloads) < len(route.shards) or not payloads:
            if not reserved:
                for pooled in lent:
                    pooled.release()
            return False
        return sink.scatter().send(session, sql, route, lent, payloads, reserved, chain, binary)

    def _connection(self, session: Session, route: FastRoute, index: int) -> tuple[PooledConnection | None, bool]:
        """The connection for the statement, and whether the statement opens the session's transaction on it:
        inside a transaction, primary statements run on the connection the transaction holds on that shard,
        or on an idle pooled one that the transaction then holds; otherwise on a pooled one."""
        shard = route.shards[index]
        tablet_type = session.target.tablet_type
        if session.in_transaction and tablet_type == "primary":
            shard_session = session.shard_sessions.get((shard.keyspace, shard.name))
            if shard_session is not None:
                return (None if _busy_or_lost(shard_session) else shard_session.connection), False
            if session.savepoints or (session.shard_sessions
                                      and session.transaction_mode is TransactionMode.SINGLE):
                return None, False
            return self.gateway.try_connection(shard, tablet_type, session.settings_sql), True
        depth = self.pipeline_depth if route.pipelined else 1
        return self.gateway.try_connection(shard, tablet_type, session.settings_sql, depth), False

    def log(self, session: Session, sql: str, plan: str, shards: list[str], seconds: float,
            error: ShardlineError | None) -> None:
        """Adds a statement answered on the fast path to the query log (callers check ``has_subscribers``)."""
        self.querylog.add(QueryLogEntry(
            sql=sql, plan=plan, keyspace=session.target.keyspace, shards=shards, seconds=seconds,
            error=str(error) if error else "", username=session.username, connection_id=session.connection_id))

    # -- learning ----------------------------------------------------------------------------------------

    def learn(self, session: Session, plan: Plan, sql: str, bind_vars: dict[str, Any],
              prepared: PreparedQuery | None) -> None:
        """After the ordinary path ran a SELECT: records whether statements like it (same shape, or the same
        prepared statement) can take the fast path for the session's target, relayed to one shard or to every
        shard of a scatter route, or merged from every shard (``FastMerge``)."""
        if session.target.shard:
            return
        version = self.serving.vschema_version
        if prepared is None:
            if len(sql) > MAX_STATEMENT_LENGTH:
                return
            shape, values, spans = statement_shape(sql)
            key: tuple[Any, ...] = ("q", shape, session.target)
        else:
            key = ("p", prepared.sql, session.target)
        known = self.routes.get(key)
        if known is not None and (known if type(known) is int else known.version) == version:  # type: ignore[union-attr]
            return
        if prepared is None:
            # Only a shape that masks exactly the literals the normalizer replaces has one plan for all its
            # statements: the literals the normalizer keeps (ORDER BY 1, DECIMAL(10,2), ...) shape the plan.
            route = None
            if spans == literal_spans(sql):
                statement_vars = {f"v{i}" for i in range(1, len(values) + 1)}
                route = self._route(session, plan, version, _text_value_index(values, bind_vars),
                                    not _MAY_WAIT.search(shape), set(bind_vars) == statement_vars, {})
        else:
            statement_vars = {f"p{i}" for i in range(1, prepared.param_count + 1)} | set(prepared.literals)
            route = self._route(session, plan, version, _param_value_index, not _MAY_WAIT.search(prepared.sql),
                                set(bind_vars) == statement_vars, prepared.literals)
        if len(self.routes) >= self.capacity and key not in self.routes:
            self.routes.pop(next(iter(self.routes)))
        self.routes[key] = route if route is not None else version

    def _route(self, session: Session, plan: Plan, version: int, value_index: Callable[[str], int | None],
               pipelinable: bool, bound_alike: bool, literals: dict[str, Any]) -> FastRoute | None:
        """``bound_alike``: the fast path binds the statement's variables as the ordinary path did here (for a
        merged route, which renders its own query); ``literals``: a prepared statement's."""
        root = plan.root
        operators: list[RowOperator] = []
        node = root
        while isinstance(node, RowOperator):
            operators.append(node)
            node = node.input
        if type(node) is not Route:
            return None
        routing = node.routing
        vindex: FunctionalVindex | None = None
        index = -1
        scatter = routing.variant is RouteVariant.SCATTER
        merge: FastMerge | None = None
        if scatter:
            if node.in_bind:
                return None
            if operators or node.order or node.helpers or not node.passthrough:
                if not bound_alike:
                    return None
                merge = FastMerge(node, operators, literals)
            pipelinable = False
        elif operators or not node.passthrough:
            return None
        elif routing.variant not in _FIXED_SHARD:
            if (routing.variant is not RouteVariant.EQUAL_UNIQUE or not isinstance(routing.vindex, FunctionalVindex)
                    or len(routing.values) != 1 or type(routing.values[0]) is not BindVar):
                return None
            vindex = routing.vindex
            found = value_index(routing.values[0].name)
            if found is None:
                return None
            index = found
        tablet_type = session.target.tablet_type
        try:
            shards = self.serving.shards(routing.keyspace, tablet_type)
        except ShardlineError:
            return None
        metrics = self.metrics
        return FastRoute(root.plan_type, vindex, index, version, shards,
                         metrics.query_histogram(root.plan_type, session.target.keyspace),
                         [metrics.shard_histogram(s.keyspace, s.name, tablet_type) for s in shards], pipelinable,
                         scatter, merge)


# The payload makers of scatter routes are made apart from run_query and run_prepared: a closure inside a compiled
# function costs every call of it an environment object, scatter or not.
def _query_payloads(payload: bytes) -> Callable[[PooledConnection], bytes | None]:
    """The COM_QUERY payload of a text statement, the same for every shard."""
    return lambda pooled: payload


def _execute_payloads(statement: ServerStatement, body: bytes) -> Callable[[PooledConnection], bytes | None]:
    """The client's COM_STMT_EXECUTE ``body`` addressed to the statement as the backend connection prepared it;
    None where that connection has not prepared it."""

    def payload(pooled: PooledConnection) -> bytes | None:
        backend = pooled.prepared.get(statement.sql)
        return None if backend is None else retarget_execute(body, backend.id, statement.param_count,
                                                             statement.bound_types)

    return payload


def _transaction_statement(text: bytes) -> str | None:
    """BEGIN, COMMIT or ROLLBACK if ``text`` is one the fast path answers, else None."""
    return _TRANSACTION_STATEMENTS.get(text.rstrip(b"; \t\r\n").lstrip().upper())


def _eligible(session: Session) -> bool:
    """A session whose next statement may take the fast path: no shard target, no sql_select_limit, no reserved
    connection (temporary tables), and either a transaction open or autocommit on (with autocommit off, the
    ordinary path opens the transaction)."""
    return (not session.target.shard and session.select_limit < 0 and not session.reserved_sessions
            and (session.in_transaction or session.autocommit))


def _param_value_index(name: str) -> int | None:
    """A prepared statement's vindex value: its parameter ``:pN`` (a literal in its text does not qualify)."""
    return int(name[1:]) - 1 if name[:1] == "p" and name[1:].isdigit() else None


def _text_value_index(values: list[Any], bind_vars: dict[str, Literal]) -> Callable[[str], int | None]:
    """For a text statement: the shape's literal that is the vindex value ``:vN``, provided the normalizer and
    the shape read that literal alike."""

    def value_index(name: str) -> int | None:
        if name[:1] != "v" or not name[1:].isdigit():
            return None
        index = int(name[1:]) - 1
        literal = bind_vars.get(name)
        if literal is None or index >= len(values):
            return None
        value = values[index]
        return index if type(literal.value) is type(value) and literal.value == value else None

    return value_index


class FastQuery:
    """One client connection's statement on the fast path. It stands in for the future of the backend
    connection's command (``Connection.submit``) and answers the client from the backend's callback."""

    __slots__ = ("fast", "conn", "session", "sql", "pooled", "reserved", "route", "shard", "started", "ending",
                 "ending_at", "ending_on", "committed", "waiting", "begin_error", "shaped", "_scatter")

    def __init__(self, fast: FastPath, conn: ServerConnection) -> None:
        self.fast = fast
        self.conn = conn
        self.session: Session | None = None
        self.sql = ""
        self.pooled: PooledConnection | None = None
        self.reserved = False  # pooled is the session's transaction's: it stays with the session
        self.route: FastRoute | None = None
        self.shard = -1  # position in route.shards
        self.started = 0.0
        self.ending = ""  # COMMIT or ROLLBACK: the statement ends the session's transaction
        self.ending_at: ShardSession | None = None  # the shard whose COMMIT is out
        self.ending_on: list[ShardSession] = []  # the shards to commit after it
        self.committed: list[str] = []  # keyspace/shard of the shards committed so far
        self.waiting = 0  # ROLLBACKs not answered yet
        self.begin_error: ShardlineError | None = None  # the shard refused the BEGIN sent before the statement
        self.shaped: tuple[str, Shape] | None = None  # the last text statement run_query saw, and its shape
        self._scatter: FastScatter | None = None

    def take_shape(self, sql: str) -> Shape | None:
        """The shape run_query computed for ``sql`` (the statement it just declined), once."""
        shaped, self.shaped = self.shaped, None
        return shaped[1] if shaped is not None and shaped[0] == sql else None

    def scatter(self) -> FastScatter:
        """The connection's statement that goes to every shard (made on first use)."""
        if self._scatter is None:
            self._scatter = FastScatter(self.fast, self.conn)
        return self._scatter

    def send(self, session: Session, sql: str, pooled: PooledConnection, opens: bool, payload: bytes,
             route: FastRoute, shard: int) -> bool:
        """Sends the command on ``pooled`` (behind the transaction's BEGIN if it ``opens`` the session's
        transaction there); False (connection given back, nothing sent) if it cannot take it."""
        self.started = time.perf_counter()
        reserved = _holds_transaction(session)  # so does a statement that opens the transaction on the shard
        self.session, self.sql, self.pooled, self.reserved = session, sql, pooled, reserved
        self.route, self.shard, self.ending, self.begin_error = route, shard, "", None
        target = route.shards[shard]
        try:
            if opens:
                pooled.connection.submit(_QUERY + session.begin_statement.encode(), _BeginSink(self))
                session.shard_sessions[(target.keyspace, target.name)] = ShardSession(target, pooled)
            pooled.connection.submit(payload, self)
        except ShardlineError:
            self.pooled = None
            if opens:
                session.shard_sessions.pop((target.keyspace, target.name), None)
            if not reserved or opens:
                pooled.release()
            return False
        return True

    def end_transaction(self, session: Session, statement: str, shard_sessions: list[ShardSession]) -> bool:
        """Ends the session's transaction on its shards' connections: COMMIT shard after shard, as the ordinary
        path commits (``ScatterConn.commit``), ROLLBACK on all at once; False if the first cannot take it."""
        self.started = time.perf_counter()
        self.session, self.sql, self.pooled, self.reserved = session, statement, None, True
        self.route, self.ending, self.begin_error = None, statement, None
        self.committed = []
        if statement == "COMMIT":
            self.ending_on = shard_sessions[1:]
            return self._submit_end(shard_sessions[0]) is None
        self.ending_on, self.waiting = [], 0
        for shard_session in shard_sessions:
            if self._submit_end(shard_session) is None:
                self.waiting += 1
            elif not self.waiting:
                return False
        return True  # a connection that could not take its ROLLBACK is closed by its pool, which rolls it back

    def _submit_end(self, shard_session: ShardSession) -> ShardlineError | None:
        """Sends the COMMIT or ROLLBACK on the shard's connection; the connection's refusal if it cannot."""
        try:
            shard_session.connection.connection.submit(_QUERY + self.ending.encode(), self)
        except ShardlineError as exc:
            return exc
        self.ending_at = shard_session
        return None

    def _ended_on_shard(self, error: ShardlineError | None) -> None:
        """A shard answered the COMMIT or ROLLBACK. A ROLLBACK's errors are dropped, as the ordinary path drops
        them; after a COMMIT the next shard's goes out, or a failure ends the commit, naming the shards
        committed before it."""
        if self.ending == "ROLLBACK":
            self.waiting -= 1
            if not self.waiting:
                self._end_transaction(None)
            return
        if error is None:
            assert self.ending_at is not None
            target = self.ending_at.target
            self.committed.append(f"{target.keyspace}/{target.name}")
            if not self.ending_on:
                self._end_transaction(None)
                return
            error = self._submit_end(self.ending_on.pop(0))
            if error is None:
                return
        self._end_transaction(partial_commit_error(self.committed, error) if self.committed else error)

    def answer_ok(self, session: Session, statement: str) -> None:
        """Answers a transaction statement that needed no shard, at once."""
        self.session, self.sql, self.started = session, statement, time.perf_counter()
        self._answer_transaction_statement(None)

    def set_result(self, response: bytes) -> None:
        if self.ending:
            self._ended_on_shard(None)
        elif self.begin_error is not None:
            self.set_exception(self.begin_error)
        else:
            session = self.session
            assert session is not None
            session.row_count, session.last_select = -1, response  # FOUND_ROWS() counts it if asked
            self._finish(None)
            self.conn.send_raw(response)
            self.conn.fast_path_done()

    def set_exception(self, exc: BaseException) -> None:
        error = _as_error(exc)
        if self.ending:
            self._ended_on_shard(error)
            return
        if self.begin_error is not None:  # the transaction never opened on the shard: it has no part there
            error = self.begin_error
            session, route = self.session, self.route
            assert session is not None and route is not None
            target = route.shards[self.shard]
            if session.shard_sessions.pop((target.keyspace, target.name), None) is not None:
                self.reserved = False  # _finish gives the connection back (unless a rollback already did)
        elif self.reserved:
            session, route = self.session, self.route
            assert session is not None and route is not None
            _note_deadlock(session, route.shards[self.shard], error)
        self._finish(error)
        self.fast.metrics.count_error(error.code)
        self.conn.send_error(error)
        self.conn.fast_path_done()

    def _end_transaction(self, error: ShardlineError | None) -> None:
        """COMMIT or ROLLBACK answered: the session's transaction ends whatever the shards said (a connection
        still inside a transaction is closed by its pool, which rolls it back)."""
        session = self.session
        assert session is not None
        self.pooled = None
        shards = [shard for _, shard in session.shard_sessions]
        ScatterConn.release_all(session)
        self._answer_transaction_statement(error, shards)

    def _answer_transaction_statement(self, error: ShardlineError | None, shards: list[str] | None = None) -> None:
        session, conn, fast = self.session, self.conn, self.fast
        assert session is not None
        elapsed = time.perf_counter() - self.started
        conn.in_transaction = session.in_transaction
        conn.autocommit = session.autocommit
        fast.metrics.observe_query(self.sql, session.target.keyspace, elapsed)
        fast.metrics.fast_path_queries += 1
        if fast.querylog.has_subscribers:
            fast.log(session, self.sql, self.sql, shards or [], elapsed, error)
        if error is None:
            session.row_count = 0
            conn.send_ok()
        else:
            fast.metrics.count_error(error.code)
            conn.send_error(error)
        conn.fast_path_done()

    def _finish(self, error: ShardlineError | None) -> None:
        pooled, route, session = self.pooled, self.route, self.session
        assert pooled is not None and route is not None and session is not None
        self.pooled = None
        now = time.perf_counter()
        elapsed = now - self.started
        service = elapsed
        if pooled.shared:  # pipelined: it waited on the shard for the statements before it
            service = now - max(self.started, pooled.answered_at)
            pooled.answered_at = now
        route.service += (service - route.service) * _SERVICE_WEIGHT
        if not self.reserved:
            pooled.release()
        route.latency.observe(elapsed)
        route.shard_latency[self.shard].observe(elapsed)
        fast = self.fast
        fast.metrics.fast_path_queries += 1
        if fast.querylog.has_subscribers:
            fast.log(session, self.sql, route.plan_type, [route.shards[self.shard].name], elapsed, error)


class FastScatter:
    """One client connection's statement on every shard of a scatter route: sent on all of them at once, each
    shard's response kept until the last is in, then their result sets joined undecoded for the client
    (``concat_result_sets``) or, on a merged route, merged (``FastMerge``); or the first shard's error (in
    shard order) sent instead."""

    __slots__ = ("fast", "conn", "session", "sql", "route", "lent", "reserved", "responses", "errors", "waiting",
                 "started", "chain", "binary")

    def __init__(self, fast: FastPath, conn: ServerConnection) -> None:
        self.fast = fast
        self.conn = conn
        self.session: Session | None = None
        self.sql = ""
        self.route: FastRoute | None = None
        self.lent: list[PooledConnection] = []
        self.reserved = False  # the connections are the session's transaction's: they are not given back
        self.responses: list[bytes] = []
        self.errors: list[ShardlineError | None] = []
        self.waiting = 0
        self.started = 0.0
        self.chain: list[dict[str, Any]] | None = None  # a merged route's bind variables
        self.binary = False  # answer with binary rows (a merged route's prepared statement)

    def send(self, session: Session, sql: str, route: FastRoute, lent: list[PooledConnection],
             payloads: list[bytes], reserved: bool, chain: list[dict[str, Any]] | None = None,
             binary: bool = False) -> bool:
        """Sends ``payloads[i]`` on ``lent[i]``, the connection to ``route.shards[i]`` (``reserved``: the
        session's transaction holds them; ``chain`` and ``binary`` as for ``FastPath._run_scatter``); False
        (pooled connections given back, nothing sent) if the first cannot take it."""
        self.started = time.perf_counter()
        self.session, self.sql, self.route, self.lent, self.reserved = session, sql, route, lent, reserved
        self.chain, self.binary = chain, binary
        count = len(lent)
        self.responses, self.errors, self.waiting = [b""] * count, [None] * count, count
        for i, (pooled, payload) in enumerate(zip(lent, payloads, strict=True)):
            try:
                pooled.connection.submit(payload, _ScatterSink(self, i))
            except ShardlineError as exc:
                if i == 0:
                    self._give_back()
                    return False
                self.done(i, b"", exc)  # the shards before it were sent the statement: it answers for them all
        return True

    def done(self, index: int, response: bytes, error: ShardlineError | None) -> None:
        """Shard ``index`` answered (or failed); the client is answered once every shard has."""
        route = self.route
        assert route is not None
        route.shard_latency[index].observe(time.perf_counter() - self.started)
        self.responses[index], self.errors[index] = response, error
        if error is not None and self.reserved:
            assert self.session is not None
            _note_deadlock(self.session, route.shards[index], error)
        self.waiting -= 1
        if self.waiting:
            return
        self._give_back()
        error = next((e for e in self.errors if e is not None), None)
        raw = None
        result: Result | None = None
        if error is None:
            merge, chain = route.merge, self.chain
            try:
                if merge is None or chain is None:
                    raw = concatenated(self.responses)
                else:
                    result = merge.result(self.responses, chain)
            except Exception as exc:  # in a socket callback: whatever fails, the client gets an error
                error = _as_error(exc)
        self.responses, self.chain = [], None
        elapsed = time.perf_counter() - self.started
        route.latency.observe(elapsed)
        fast, session = self.fast, self.session
        assert session is not None
        fast.metrics.fast_path_queries += 1
        if fast.querylog.has_subscribers:
            fast.log(session, self.sql, route.plan_type, [shard.name for shard in route.shards], elapsed, error)
        if raw is not None:
            session.row_count, session.last_select = -1, raw
            self.conn.send_raw(raw)
        elif result is not None:
            session.row_count, session.last_select = -1, len(result.rows)
            self.conn.send_result(result, binary=self.binary)
        else:
            assert error is not None
            fast.metrics.count_error(error.code)
            self.conn.send_error(error)
        self.conn.fast_path_done()

    def _give_back(self) -> None:
        """Returns the pooled connections (a transaction's stay with it)."""
        if not self.reserved:
            for pooled in self.lent:
                pooled.release()
        self.lent = []


class _ScatterSink:
    """One shard's response to a FastScatter statement."""

    __slots__ = ("scatter", "index")

    def __init__(self, scatter: FastScatter, index: int) -> None:
        self.scatter = scatter
        self.index = index

    def set_result(self, response: bytes) -> None:
        self.scatter.done(self.index, response, None)

    def set_exception(self, exc: BaseException) -> None:
        error = _as_error(exc)
        self.scatter.done(self.index, b"", error)


class _BeginSink:
    """The response to the BEGIN sent ahead of a transaction's first statement on a shard."""

    __slots__ = ("query",)

    def __init__(self, query: FastQuery) -> None:
        self.query = query

    def set_result(self, response: bytes) -> None:
        return None

    def set_exception(self, exc: BaseException) -> None:
        self.query.begin_error = _as_error(exc)


def _as_error(exc: BaseException) -> ShardlineError:
    """A backend connection's failure as the error the client gets."""
    return exc if isinstance(exc, ShardlineError) else ShardlineError(f"internal error: {exc}")


def _holds_transaction(session: Session) -> bool:
    """Whether the session's statements run on its transaction's connections (primary ones only)."""
    return session.in_transaction and session.target.tablet_type == "primary"


def _busy_or_lost(shard_session: ShardSession) -> bool:
    """A transaction's connection that is running a statement, or whose part of the transaction is gone (the
    ordinary path then ends the transaction and says why)."""
    return shard_session.lock.locked() or bool(shard_session.lost_reason())


def _note_deadlock(session: Session, shard: ShardTarget, error: ShardlineError) -> None:
    """A transaction's statement failed on ``shard``: a deadlock there ended the shard's part."""
    shard_session = session.shard_sessions.get((shard.keyspace, shard.name))
    if shard_session is not None:
        shard_session.note_error(error)
