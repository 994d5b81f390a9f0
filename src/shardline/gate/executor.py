"""The executor: takes a client statement, dispatches it by kind, plans it (through the plan cache) and runs
the plan; a route to one shard with the client's text unchanged relays the shard's packets untouched."""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from shardline.errors import InvalidArgument, MySQLError, NotFound, ShardlineError, Unsupported
from shardline.gate import show
from shardline.gate.engine.base import Primitive
from shardline.gate.engine.sequence import SequenceCache
from shardline.gate.engine.sqltemplate import SQLTemplate
from shardline.gate.fastpath import FastPath
from shardline.gate.planner import PlanCache, build_plan, normalize
from shardline.gate.planner.classify import (
    StatementKind,
    classify,
    leading_words,
    unwrap_versioned_comments,
)
from shardline.gate.planner.lock import LOCK_FUNCTION, lock_keyspace
from shardline.gate.planner.normalize import ShapeNormalizer
from shardline.gate.planner.parse import parse
from shardline.gate.planner.shape import Shape
from shardline.gate.pool import DEFAULT_PIPELINE_DEPTH
from shardline.gate.prepared import PLANNED_KINDS, PreparedQuery, prepare_query
from shardline.gate.querylog import QueryLogEntry
from shardline.gate.scatter_conn import concatenated
from shardline.gate.session import Target, TransactionMode
from shardline.gate.setparse import Assignment, Scope, parse_set
from shardline.gate.vcursor_impl import SessionVCursor
from shardline.mysql.constants import OK_HEADER
from shardline.mysql.responses import parse_ok
from shardline.sqltypes import DECIMAL_TYPES, FLOAT_TYPES, INTEGER_TYPES, Field, FieldType, Result
from shardline.vindexes.base import CommitOrder

if TYPE_CHECKING:
    from shardline.gate.engine.vcursor import ShardTarget
    from shardline.gate.metrics import GateMetrics
    from shardline.gate.planner import Plan
    from shardline.gate.querylog import QueryLog
    from shardline.gate.scatter_conn import ScatterConn
    from shardline.gate.session import Session
    from shardline.gate.srvtopo import ServingGraph

K = StatementKind
_PLANNED = PLANNED_KINDS
# Statements an unsharded keyspace may run as they are; on a sharded keyspace they would need a plan.
_UNSHARDED_PASSTHROUGH = frozenset({K.FLUSH, K.CALL, K.LOAD, K.DO, K.ADMIN, K.UNKNOWN})
# Statements whose effect stays on the backend connection after it, which a pool would lend to other sessions.
_SQL_PREPARE_REFUSED = ("SQL PREPARE / EXECUTE is not supported: the statement would live on a pooled backend "
                        "connection (use the protocol's prepared statements, COM_STMT_PREPARE, as drivers do)")
_CONNECTION_STATE = {
    K.LOCK_TABLES: "LOCK TABLES is not supported: a pooled backend connection would keep the locks for other "
                   "sessions (for mariadb-dump use --single-transaction or --skip-lock-tables)",
    K.PREPARE: _SQL_PREPARE_REFUSED, K.EXECUTE: _SQL_PREPARE_REFUSED, K.DEALLOCATE: _SQL_PREPARE_REFUSED,
    K.HANDLER: "HANDLER is not supported: the open handler would stay on a pooled backend connection",
    K.SET_STATEMENT: "SET STATEMENT ... FOR is not supported; SET the variable for the session, run the "
                     "statement, and SET it back",
}
_TEMPORARY_TABLE = re.compile(r"(?i)\s*(?:(CREATE)(?:\s+OR\s+REPLACE)?|DROP)\s+TEMPORARY\s+TABLE\b")
_GET_LOCK = re.compile(r"(?i)\bGET_LOCK\s*\(")
_GLOBAL_LOCK = re.compile(r"(?i)\bWITH\s+READ\s+LOCK\b|\bFOR\s+EXPORT\b")
_DEFAULT_CHARSETS = ("utf8mb4", "'utf8mb4'", "utf8mb4 collate utf8mb4_general_ci",
                     "'utf8mb4' collate 'utf8mb4_general_ci'", "utf8", "'utf8'", "utf8mb3", "'utf8mb3'")
LAST_INSERT_ID_BIND = "__lastInsertId"
# Values the session holds, not a backend connection: LAST_INSERT_ID(), DATABASE(), CONNECTION_ID(), ROW_COUNT(),
# FOUND_ROWS() and the gate's own variables.
_SESSION_VALUE = re.compile(
    r"(?i)(\bSELECT\s+|,\s*)?(\b(last_insert_id|database|schema|connection_id|row_count|found_rows)\s*\(\s*\)"
    r"|@@(?:session\.|local\.)?(autocommit|transaction_mode)\b)(?=(\s*(?:,|\bFROM\b|;|$))?)")
_INFORMATION_SCHEMA = re.compile(r"(?i)\binformation_schema\s*\.")
_SYNTAX_ERROR = 1064
# Variables the gate itself owns instead of passing them to MySQL.
_GATE_VARIABLES = frozenset({"autocommit", "transaction_mode", "workload", "ddl_strategy", "sql_select_limit"})
_NO_SELECT_LIMIT = 18446744073709551615  # sql_select_limit's DEFAULT


class Executor:
    """Runs statements for sessions; one per gate, shared by all client connections."""

    def __init__(self, serving: ServingGraph, scatter: ScatterConn, metrics: GateMetrics, querylog: QueryLog,
                 *, plan_cache_size: int = 10_000, pipeline_depth: int = DEFAULT_PIPELINE_DEPTH) -> None:
        self.serving = serving
        self.scatter = scatter
        self.metrics = metrics
        self.querylog = querylog
        self.plans = PlanCache(plan_cache_size)
        self.normalizer = ShapeNormalizer(plan_cache_size)
        self.sequences = SequenceCache()
        self.fast = FastPath(serving, scatter.gateway, metrics, querylog, capacity=plan_cache_size,
                             pipeline_depth=pipeline_depth)

    async def execute(self, session: Session, sql: str, shaped: Shape | None = None) -> Result | bytes:
        """Runs one client statement; returns a Result, or the raw packets of a relayed result. ``shaped``: the
        statement's ``statement_shape`` if the fast path computed it before declining the statement."""
        start = time.perf_counter()
        entry = QueryLogEntry(sql=sql, plan="", keyspace=session.target.keyspace, username=session.username,
                              connection_id=session.connection_id) if self.querylog.has_subscribers else None
        plan_kind = "Other"
        try:
            kind = classify(sql)
            if kind in _PLANNED:
                plan_kind, outcome = await self._execute_planned(session, sql, kind, shaped)
            else:
                plan_kind = kind.value
                outcome = await self._execute_other(session, sql, kind)
            _note_outcome(session, kind, outcome)
        except ShardlineError as exc:
            error = await self.scatter.after_failure(session, exc)
            self.metrics.count_error(error.code)
            if entry is not None:
                entry.error = str(error)
            if error is exc:
                raise
            raise error from exc
        finally:
            elapsed = time.perf_counter() - start
            self.metrics.observe_query(plan_kind, session.target.keyspace, elapsed)
            if entry is not None:
                entry.plan, entry.seconds = plan_kind, elapsed
                self.querylog.add(entry)
        return outcome

    # -- planned statements -------------------------------------------------------------------------------

    def plan_for(self, session: Session, normalized: str) -> Plan:
        """The cached plan of a normalized statement for the session's target, built on a miss."""
        vschema, version = self.serving.vschema, self.serving.vschema_version
        key = PlanCache.key(normalized, str(session.target), version)
        plan = self.plans.get(key)
        if plan is None:
            plan = build_plan(normalized, vschema, keyspace=session.target.keyspace or None,
                              shard=session.target.shard or None)
            self.plans.put(key, plan)
        return plan

    async def _execute_planned(self, session: Session, sql: str, kind: StatementKind,
                               shaped: Shape | None) -> tuple[str, Result | bytes]:
        normalized, bind_vars = self.normalizer.normalize(sql, shaped)

        def relay(target: ShardTarget) -> Awaitable[bytes]:
            return self.scatter.execute_raw(session, target, sql)

        return await self._run_plan(session, sql, kind, normalized, bind_vars, relay)

    async def _run_plan(self, session: Session, sql: str, kind: StatementKind, normalized: str,
                        bind_vars: dict[str, Any], relay: Callable[[ShardTarget], Awaitable[bytes]] | None,
                        prepared: PreparedQuery | None = None) -> tuple[str, Result | bytes]:
        """Plans (or finds the plan of) a normalized statement and runs it; a route that goes to one shard
        with the client's text unchanged is sent through ``relay`` and its packets are returned untouched.

        ``LAST_INSERT_ID()``, ``DATABASE()``, ``CONNECTION_ID()``, ``@@autocommit`` and ``@@transaction_mode``
        are the session's, not a backend connection's: they become bind variables, and the client's text is
        then no longer sent as is. information_schema is answered by a shard. A text statement that sqlglot
        parses only with its literals in place (``JSON_OBJECT('k', v)``) is planned from its own text, cached
        under it, and never relayed or learned by the fast path (whose plans are for any literal values).
        """
        if _SESSION_VALUE.search(normalized):
            normalized = _bind_session_values(normalized, session, bind_vars)
            relay = None
        try:
            plan = self.plan_for(session, normalized)
        except NotFound as exc:
            if exc.code == 1049 and _INFORMATION_SCHEMA.search(sql):
                return "InformationSchema", await show.run_information_schema(self, session, sql)
            raise
        except MySQLError as exc:
            if exc.code != _SYNTAX_ERROR or prepared is not None or normalized == sql:
                raise
            bind_vars = {}
            literal = _bind_session_values(sql, session, bind_vars) if _SESSION_VALUE.search(sql) else sql
            try:
                plan = self.plan_for(session, literal)
            except MySQLError:
                raise exc from None
            relay = None
        if not session.autocommit and not session.in_transaction:
            session.in_transaction = True  # autocommit=0: every statement opens (or joins) a transaction
        if session.select_limit >= 0 and kind is K.SELECT:
            relay = None  # sql_select_limit: the gate cuts the rows (a shard must not: a merge needs them all)
        vcursor = SessionVCursor(self, session, sql)
        root = plan.root
        targets = await plan.relay_shards(vcursor, bind_vars) if relay is not None else None
        if relay is not None and targets is not None and len(targets) > 1:
            raw = concatenated(await self.scatter.run_on_shards(session, targets, relay))
            if kind is K.SELECT:
                self.fast.learn(session, plan, sql, bind_vars, prepared)
            return root.plan_type, raw
        if relay is not None and targets is not None:
            raw = await relay(targets[0])
            if kind is K.SELECT:
                self.fast.learn(session, plan, sql, bind_vars, prepared)
            return root.plan_type, raw  # its insert id and row count: _note_outcome
        if kind is K.SELECT:
            result = await root.execute(vcursor, bind_vars)
            if relay is not None:  # a statement with LAST_INSERT_ID() bound never takes the fast path
                self.fast.learn(session, plan, sql, bind_vars, prepared)
            if session.select_limit >= 0 and not _has_top_level_limit(plan.sql):
                del result.rows[session.select_limit:]
        elif session.in_transaction:
            result = await root.execute(vcursor, bind_vars)
        else:
            result = await self._autocommit_dml(session, root, vcursor, bind_vars)
        return root.plan_type, result

    async def _autocommit_dml(self, session: Session, root: Primitive, vcursor: SessionVCursor,
                              bind_vars: dict[str, Any]) -> Result:
        """A DML statement that touches several shards or lookup tables, in autocommit mode, runs in a
        transaction of its own, so that it applies entirely or not at all."""
        session.in_transaction = True
        try:
            result = await root.execute(vcursor, bind_vars)
        except BaseException:
            await self.scatter.rollback(session)
            raise
        await self.scatter.commit(session)
        return result

    # -- prepared statements -----------------------------------------------------------------------------

    async def prepare(self, session: Session, sql: str) -> tuple[PreparedQuery, list[Field]]:
        """COM_STMT_PREPARE: plans the statement now (errors surface at prepare time, as in MySQL) and asks a
        shard of its keyspace for the result columns."""
        query = prepare_query(sql)
        if query.kind not in _PLANNED:
            return query, []
        plan = self.plan_for(session, query.normalized)
        keyspace = _first_keyspace(plan.root) or session.target.keyspace
        if not keyspace:
            return query, []
        shards = SessionVCursor(self, session, sql).shards(keyspace)
        if not shards:
            return query, []
        statement = await self.scatter.prepare(session, shards[0], sql)
        return query, statement.fields

    async def execute_prepared(self, session: Session, query: PreparedQuery, params: list[Any]) -> Result | bytes:
        """COM_STMT_EXECUTE: a single-shard route relays the shard's binary rows; anything else returns a
        Result that the caller sends as binary rows."""
        start = time.perf_counter()
        plan_kind = query.kind.value
        try:
            bind_vars = query.bind_vars(params)
            if query.kind not in _PLANNED:
                other = await self._execute_other(session, SQLTemplate(query.parameterized).render(bind_vars),
                                                  query.kind)
                _note_outcome(session, query.kind, other)
                return other
            bind_vars.update(query.literals)

            def relay(target: ShardTarget) -> Awaitable[bytes]:
                return self.scatter.execute_prepared_raw(session, target, query.sql, params)

            plan_kind, outcome = await self._run_plan(session, query.sql, query.kind, query.normalized, bind_vars,
                                                      relay, query)
            _note_outcome(session, query.kind, outcome)
            return outcome
        except ShardlineError as exc:
            error = await self.scatter.after_failure(session, exc)
            self.metrics.count_error(error.code)
            if error is exc:
                raise
            raise error from exc
        finally:
            self.metrics.observe_query(plan_kind, session.target.keyspace, time.perf_counter() - start)

    async def execute_nested(self, session: Session, sql: str, bind_vars: dict[str, Any], *,
                             autocommit: bool = False, commit_order: CommitOrder = CommitOrder.NORMAL) -> Result:
        """A statement issued by a plan (lookup vindexes, sequences): planned like a client's, never relayed.

        ``autocommit`` runs it outside the session's transactions, on pooled connections; otherwise it joins
        the session's transaction of ``commit_order``.
        """
        # Nested statements name their tables with keyspaces and always write to primaries: a session's
        # ``@replica`` or ``ks:shard`` target must not redirect them.
        target = Target(session.target.keyspace)
        if autocommit and session.in_transaction:
            run_in = _outside_transaction(session, target)
        else:
            run_in = dataclasses.replace(session, target=target)
        plan = self.plan_for(run_in, sql)
        return await plan.root.execute(SessionVCursor(self, run_in, sql, commit_order), bind_vars)

    # -- everything else ---------------------------------------------------------------------------------

    async def _execute_other(self, session: Session, sql: str, kind: StatementKind) -> Result | bytes:
        sql = unwrap_versioned_comments(sql)  # as mysqldump writes SET, ALTER ... DISABLE KEYS
        if kind is K.BEGIN:
            return await self._begin(session, sql)
        if kind is K.COMMIT:
            await self.scatter.commit(session)
            return Result()
        if kind is K.ROLLBACK:
            await self.scatter.rollback(session)
            return Result()
        if kind in (K.SAVEPOINT, K.SAVEPOINT_ROLLBACK, K.RELEASE):
            return await self._savepoint(session, sql)
        if kind is K.SET:
            return await self._set(session, sql)
        if kind is K.USE:
            self.use(session, _use_target(sql))
            return Result()
        if kind is K.SHOW:
            return await show.execute_show(self, session, sql)
        if kind in (K.EXPLAIN, K.VEXPLAIN):
            return await self._explain(session, sql)
        if kind is K.DDL:
            return await self._ddl(session, sql)
        if kind is K.COMMENT or kind is K.UNLOCK_TABLES:
            return Result()  # UNLOCK TABLES: no session holds table locks (LOCK TABLES is refused)
        if kind in _CONNECTION_STATE:
            raise Unsupported(_CONNECTION_STATE[kind])
        if kind is K.FLUSH and _GLOBAL_LOCK.search(sql):
            raise Unsupported("FLUSH ... WITH READ LOCK / FOR EXPORT is not supported: a pooled backend "
                              "connection would keep the lock for other sessions")
        if kind is K.DO and LOCK_FUNCTION.search(sql):
            return await self._do_lock(session, sql)
        if kind in _UNSHARDED_PASSTHROUGH:
            return await self._unsharded_passthrough(session, sql, kind)
        raise Unsupported(f"{kind.value} statements are not supported by the gate")

    async def _do_lock(self, session: Session, sql: str) -> Result:
        """``DO GET_LOCK(...)`` / ``DO RELEASE_LOCK(...)``: on the session's lock connection, as SELECTs of
        named-lock functions run (``engine.lock``)."""
        keyspace = lock_keyspace(self.serving.vschema, session.target.keyspace)
        shard = session.target.shard if keyspace == session.target.keyspace else ""
        vcursor = SessionVCursor(self, session, sql)
        return await vcursor.execute_lock(keyspace, shard, sql, acquires=bool(_GET_LOCK.search(sql)))

    def use(self, session: Session, target_text: str) -> None:
        """``USE ks``, ``USE ks@replica``, ``USE ks:-80`` (and COM_INIT_DB)."""
        target = Target.parse(target_text)
        if target.keyspace and target.keyspace.lower() != "information_schema":
            self.serving.vschema.find_keyspace(target.keyspace)  # NotFound 1049 for an unknown keyspace
            if target.shard and target.shard not in {s.name for s in self.serving.shards(
                    target.keyspace, target.tablet_type)}:
                raise NotFound(f"Unknown database '{target_text}': no shard '{target.shard}'", code=1049,
                               sqlstate="42000")
        session.target = target

    async def _begin(self, session: Session, sql: str) -> Result:
        if session.in_transaction:
            await self.scatter.commit(session)  # MySQL commits an open transaction on BEGIN
        session.in_transaction = True
        words = leading_words(sql, 3)
        session.begin_statement = sql if words[:2] == ["START", "TRANSACTION"] and len(words) > 2 else "BEGIN"
        return Result()

    async def _savepoint(self, session: Session, sql: str) -> Result:
        if not session.in_transaction:
            if classify(sql) is K.SAVEPOINT:
                return Result()  # MySQL accepts a savepoint outside a transaction and forgets it
            raise MySQLError(1305, "42000", "SAVEPOINT does not exist")
        await self.scatter.run_on_open_shards(session, sql)
        session.savepoints.append(sql)
        return Result()

    async def _set(self, session: Session, sql: str) -> Result:
        """Applies a SET whole or not at all: the session's new settings are tried on a backend connection
        (and put on its open transactions' connections) before the statement is answered."""
        before = (dict(session.system_settings), session.autocommit, session.transaction_mode, session.select_limit)
        try:
            for item in parse_set(sql):
                await self._set_item(session, item)
            if session.system_settings != before[0]:
                if set(before[0]) <= set(session.system_settings):  # nothing dropped: one SET brings them up to date
                    await self.scatter.apply_settings(session)
                await show.run_on_any_shard(self, _outside_transaction(session), "SELECT 1")
        except ShardlineError:
            for name in set(session.system_settings) | set(before[0]):
                session.set_setting(name, before[0].get(name))
            session.autocommit, session.transaction_mode, session.select_limit = before[1], before[2], before[3]
            raise
        return Result()

    async def _set_item(self, session: Session, item: Assignment) -> None:
        if item.scope is Scope.GLOBAL:
            raise Unsupported(f"SET GLOBAL is not supported through the gate (variable '{item.name}')")
        if item.name == "autocommit":
            await self._set_autocommit(session, item.value)
        elif item.name == "transaction_mode":
            value = item.value.strip("'\"").lower()
            try:
                session.transaction_mode = TransactionMode(value)
            except ValueError:
                raise InvalidArgument(
                    f"invalid transaction_mode '{value}': use single or multi", code=1231,
                    sqlstate="42000") from None
        elif item.name == "sql_select_limit":
            session.select_limit = _select_limit(item.value)
        elif item.name in _GATE_VARIABLES:
            return
        elif item.name == "next transaction":
            raise Unsupported("SET TRANSACTION for the next transaction only is not supported; use SET SESSION "
                              "TRANSACTION ..., or START TRANSACTION READ ONLY")
        elif item.name == "names" and item.value.lower() in _DEFAULT_CHARSETS:
            session.set_setting("names", None)
        elif item.scope is Scope.USER:
            session.set_setting("@" + item.name, f"@{item.name} = {await self._literal(session, item.value)}")
        elif "@" in item.value:  # a user (@x) or system (@@x) variable
            # Replayed in one SET with the user variables, @x would still be NULL there: MariaDB checks the
            # system variables' values before it assigns any.
            session.set_setting(item.name, f"@@session.{item.name} = {await self._literal(session, item.value)}")
        else:
            session.set_setting(item.name, item.text)

    async def _set_autocommit(self, session: Session, value: str) -> None:
        flag = value.strip("'\"").lower()
        if flag in ("1", "on", "true"):
            if session.in_transaction:
                await self.scatter.commit(session)  # MySQL commits when autocommit is switched on
            session.autocommit = True
        elif flag in ("0", "off", "false"):
            session.autocommit = False
        else:
            raise InvalidArgument(f"Variable 'autocommit' can't be set to the value of '{value}'", code=1231,
                                  sqlstate="42000")

    async def _literal(self, session: Session, value: str) -> str:
        """A SET value as a literal: evaluated once on a shard unless it is one already."""
        if value.lstrip("-").replace(".", "", 1).isdigit() or (value[:1] in "'\"" and value[-1:] == value[:1]):
            return value
        result = await show.run_on_any_shard(self, _outside_transaction(session), f"SELECT {value}")
        raw = result.rows[0][0] if result.rows else None
        if raw is None:
            return "NULL"
        return f"x'{raw.hex()}'" if not _is_numeric(result.fields[0]) else raw.decode()

    async def _explain(self, session: Session, sql: str) -> Result:
        """``VEXPLAIN [PLAN]`` / ``EXPLAIN FORMAT=VITESS``: the gate's plan. Plain ``EXPLAIN stmt`` is MariaDB's
        plan, from a shard of the keyspace the gate's plan reads first; ``DESCRIBE table`` goes to the table's
        keyspace, as SHOW COLUMNS does."""
        gate_explain = _GATE_EXPLAIN.match(sql)
        if gate_explain:
            mode = (gate_explain.group(1) or "PLAN").upper()
            if mode != "PLAN":
                raise Unsupported(f"VEXPLAIN {mode} is not supported; VEXPLAIN PLAN shows the gate's plan")
            normalized, _ = normalize(sql[gate_explain.end():])
            plan = self.plan_for(session, normalized)
            text = json.dumps(plan.describe(), indent=2, default=str)
            return Result(fields=[Field("JSON", FieldType.VAR_STRING)], rows=[(text.encode(),)])
        explained = _explained_statement(sql)
        if explained is None:
            return await show.run_describe(self, session, sql)
        try:
            keyspace = _first_keyspace(self.plan_for(session, normalize(explained)[0]).root)
        except ShardlineError:
            keyspace = ""  # not for the gate to plan: MariaDB explains it, or says why not
        if not keyspace:
            return await show.run_on_any_shard(self, session, sql)
        return await show.run_on_keyspace(self, session, keyspace, sql)

    async def _ddl(self, session: Session, sql: str) -> Result:
        keyspace = show.ddl_keyspace(sql) or session.target.keyspace
        if not keyspace:
            raise MySQLError(1046, "3D000", "No database selected")
        self.serving.vschema.find_keyspace(keyspace)
        shards = self.serving.shards(keyspace, "primary")
        if session.target.shard and keyspace == session.target.keyspace:
            shards = [s for s in shards if s.name == session.target.shard]
        temporary = _TEMPORARY_TABLE.match(sql)
        if temporary:
            await self._reserve_for_temporary_table(session, keyspace, shards, create=bool(temporary.group(1)))
        elif session.in_transaction:
            await self.scatter.commit(session)  # DDL commits implicitly in MySQL (temporary tables aside)
        primary_session = dataclasses.replace(session, target=Target(keyspace, "primary", session.target.shard))
        results = await self.scatter.execute(primary_session, [(s, sql) for s in shards])
        return Result(rows_affected=sum(r.rows_affected for r in results))

    async def _reserve_for_temporary_table(self, session: Session, keyspace: str, shards: list[ShardTarget],
                                           *, create: bool) -> None:
        """A temporary table lives on one MariaDB connection: the session reserves one to the keyspace's primary
        and runs all its later statements there (only unsharded keyspaces: in a sharded one the planner would
        route the table's rows by a VSchema that does not know it)."""
        if self.serving.vschema.find_keyspace(keyspace).sharded:
            raise Unsupported(f"temporary tables are supported only in unsharded keyspaces; '{keyspace}' is "
                              f"sharded")
        for shard in shards:
            key = (shard.keyspace, shard.name)
            if key in session.reserved_sessions:
                continue
            if not create:
                return  # DROP TEMPORARY TABLE of a session with none there: MariaDB says 1051 on a pooled one
            if key in session.shard_sessions:
                raise Unsupported("CREATE TEMPORARY TABLE in a transaction that already ran a statement on "
                                  f"{keyspace}/{shard.name} is not supported: create it before BEGIN")
            await self.scatter.reserve(session, shard)

    async def _unsharded_passthrough(self, session: Session, sql: str, kind: StatementKind) -> Result | bytes:
        keyspace = session.target.keyspace
        if keyspace:
            ks = self.serving.vschema.find_keyspace(keyspace)
            if not ks.sharded or session.target.shard:
                shards = SessionVCursor(self, session, sql).shards(keyspace)
                return await self.scatter.execute_raw(session, shards[0], sql)
        if kind is K.UNKNOWN:
            raise MySQLError(1064, "42000", "You have an error in your SQL syntax; check the manual that "
                             f"corresponds to your MariaDB server version for the right syntax to use near "
                             f"'{sql[:80]}'")
        raise Unsupported(f"{kind.value.replace('_', ' ')} is supported only on an unsharded keyspace or a "
                          f"shard target (USE keyspace:shard)")


def _note_outcome(session: Session, kind: StatementKind, outcome: Result | bytes) -> None:
    """What the session remembers of a statement's outcome: its insert id (LAST_INSERT_ID()), and as MariaDB
    counts them ROW_COUNT() (rows changed, or -1 after rows returned) and FOUND_ROWS() (a SELECT's rows, without
    LIMIT under SQL_CALC_FOUND_ROWS; counted from a relayed response only if asked)."""
    if isinstance(outcome, bytes):
        if outcome[4] == OK_HEADER:
            ok = parse_ok(outcome[4:])
            session.row_count = ok.affected_rows
            if ok.insert_id:
                session.last_insert_id = ok.insert_id
            return
        session.row_count = -1
        if kind is K.SELECT:
            session.last_select = outcome
    elif outcome.fields:
        session.row_count = -1
        if kind is K.SELECT:
            session.last_select = outcome.found_rows if outcome.found_rows is not None else len(outcome.rows)
    else:
        session.row_count = outcome.rows_affected
        if outcome.insert_id:
            session.last_insert_id = outcome.insert_id


def _bind_session_values(normalized: str, session: Session, bind_vars: dict[str, Any]) -> str:
    """Replaces the session's values (see ``_SESSION_VALUE``) by bind variables holding them; a bare select
    expression keeps its column name."""
    def replace(match: re.Match[str]) -> str:
        value: Any
        function, variable = (match.group(3) or "").lower(), (match.group(4) or "").lower()
        if variable == "autocommit":
            name, value = "__vtautocommit", int(session.autocommit)
        elif variable == "transaction_mode":
            name, value = "__vttransaction_mode", session.transaction_mode.value.upper()
        elif function == "last_insert_id":
            name, value = LAST_INSERT_ID_BIND, session.last_insert_id
        elif function == "connection_id":
            name, value = "__vtconnection_id", session.connection_id
        elif function == "row_count":
            name, value = "__vtrow_count", session.row_count
        elif function == "found_rows":
            name, value = "__vtfound_rows", session.found_rows()
        else:
            name, value = "__vtdbname", session.target.keyspace or None
        bind_vars[name] = value
        before = match.group(1) or ""
        if before and match.group(5) is not None:  # a whole select expression
            return f"{before}:{name} AS `{match.group(2)}`"
        return f"{before}:{name}"
    return _SESSION_VALUE.sub(replace, normalized)


def _select_limit(value: str) -> int:
    """sql_select_limit's value as the session keeps it (-1 for DEFAULT: no limit)."""
    text = value.strip().strip("'\"")
    if text.upper() == "DEFAULT":
        return -1
    if not text.isdigit():
        raise InvalidArgument("Incorrect argument type to variable 'sql_select_limit'", code=1232, sqlstate="42000")
    number = int(text)
    return -1 if number >= _NO_SELECT_LIMIT else number


@functools.lru_cache(maxsize=1024)
def _has_top_level_limit(normalized: str) -> bool:
    """Whether a SELECT (or UNION) has its own LIMIT, which sql_select_limit does not override."""
    try:
        statement = parse(normalized)
    except MySQLError:
        return False
    return statement.args.get("limit") is not None


def _outside_transaction(session: Session, target: Target | None = None) -> Session:
    """A copy of the session that runs statements on pooled connections, outside its transactions."""
    return dataclasses.replace(session, target=target or session.target, in_transaction=False, autocommit=True,
                               shard_sessions={}, pre_sessions={}, post_sessions={}, savepoints=[])


def _first_keyspace(primitive: Primitive) -> str:
    """The keyspace of the first route in a plan (depth first), or ''."""
    keyspace = getattr(primitive, "keyspace", "")
    if isinstance(keyspace, str) and keyspace:
        return keyspace
    for child in primitive.inputs():
        found = _first_keyspace(child)
        if found:
            return found
    return ""


def _use_target(sql: str) -> str:
    body = sql.strip().rstrip(";").strip()[3:].strip()
    if len(body) >= 2 and body[0] == body[-1] == "`":
        body = body[1:-1]
    if not body:
        raise MySQLError(1046, "3D000", "No database selected")
    return body


_GATE_EXPLAIN = re.compile(r"\s*(?:VEXPLAIN(?:\s+(PLAN|QUERIES|ALL)\b)?|EXPLAIN\s+FORMAT\s*=\s*VITESS\b)\s*",
                           re.IGNORECASE)
_EXPLAIN_OPTIONS = re.compile(r"^\s*(?:EXPLAIN|DESCRIBE|DESC)\s+(?:(?:EXTENDED|PARTITIONS|ANALYZE|FORMAT\s*=\s*\w+)\s+)*",
                              re.IGNORECASE)
_EXPLAINABLE = frozenset({"SELECT", "WITH", "INSERT", "UPDATE", "DELETE", "REPLACE", "VALUES", "TABLE"})


def _explained_statement(sql: str) -> str | None:
    """The statement ``EXPLAIN [options] stmt`` explains; None for ``DESCRIBE table`` (or a form not parsed)."""
    match = _EXPLAIN_OPTIONS.match(sql)
    if not match:
        return None
    body = sql[match.end():].lstrip("( \t\n")
    first = leading_words(body, 1)
    return body if first and first[0] in _EXPLAINABLE else None


def _is_numeric(field: Field) -> bool:
    return field.type in INTEGER_TYPES or field.type in DECIMAL_TYPES or field.type in FLOAT_TYPES
