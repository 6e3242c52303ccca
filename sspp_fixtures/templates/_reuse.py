"""The reuse machinery a template carries, so that a test's database can be put back in place after the test.

Everything lives in the schema ``sspp_reuse`` (never in ``public``):

- ``p_<table oid>``: a pristine copy of each user table (same columns, same primary key);
- ``seqs``: ``last_value``/``is_called`` of every user sequence, as in the template;
- ``objects``: every object the template holds (class and oid), so DDL can tell the template's objects from a
  test's new ones;
- ``dirty``: an UNLOGGED table where statement-level AFTER INSERT/UPDATE/DELETE/TRUNCATE triggers
  (``sspp_reuse_mark``, ``ENABLE ALWAYS`` so ``session_replication_role = replica`` does not silence them) write
  (table, operation), once per table and operation and transaction; event triggers on ``ddl_command_end`` and
  ``sql_drop`` (also ``ENABLE ALWAYS``) write ``(0, 'X')`` for DDL that touches a template object or names none
  (``GRANT``), and remember in ``created`` each object a ``CREATE`` made (DDL on temporary objects is ignored);
  ``ALTER TABLE`` on a tracked table, and a ``DROP INDEX``/``DROP DEFAULT`` of what ``indexes``/``columns``
  recorded, put the table in ``altered`` instead;
- ``columns``, ``indexes``: per tracked plain table outside inheritance, each template column's ``NOT NULL`` and
  default, and each index no constraint owns (its ``pg_get_indexdef``, comment and current oid);
- ``tracked``: per table, the two statements that restore it; ``state``: the xid of the last restore.

``sspp_reuse.release(wait_ms)`` does the whole job server-side in one call: it ends the sessions a test left that
could break the next test's isolation (inside a transaction or running a statement, holding a lock, or listening)
and keeps idle ones (a service's connection pool survives the test), refuses what it cannot undo exactly, drops the
objects the test created, puts back altered tables (added columns and constraints dropped, template defaults and
``NOT NULL`` set again, dropped template indexes rebuilt; then each must match its recorded ``shape()``), then for
every table marked dirty deletes the rows whose ``xmin`` is newer than the last restore (compared with ``age()``,
safe across xid wraparound) and, after UPDATE/DELETE/TRUNCATE only, re-inserts the pristine rows whose key is
missing; sequences that moved are set back. It returns ``clean``, ``restored``, ``busy`` or ``recycle:<reason>``
(the caller then replaces the database by a fresh clone), read by :func:`read_status`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import psycopg
from psycopg import sql

__all__ = [
    "REUSE_SCHEMA",
    "ROLLED_BACK",
    "UNMARKED",
    "Status",
    "install_reuse",
    "mark_all_changed",
    "read_status",
    "release_statement",
]

REUSE_SCHEMA = "sspp_reuse"
_MARK_TRIGGER = "sspp_reuse_mark"
#: A setting (of the plugin's isolation 'transaction' sessions): their writes are not marked (all are rolled back).
ROLLED_BACK = f"{REUSE_SCHEMA}.rolled_back"
#: A session setting: ``on`` once a transaction with :data:`ROLLED_BACK` wrote to a tracked table and committed.
UNMARKED = f"{REUSE_SCHEMA}.unmarked"
_EVENT_TRIGGERS = ("sspp_reuse_ddl", "sspp_reuse_drop")

#: An added column, once dropped, keeps its slot: after this many a table's database is replaced (1,600 at most).
_DROPPED_COLUMNS_MAX = 200

#: A column's type is put back in place only while its table, reloaded whole, costs less than a clone of the whole
#: database: on the smoke data a reload took 15 ms for customers (pristine copy 0.05 MB) and 31-51 ms for events
#: (0.4 MB, four indexes to fill), a clone of the 12.6 MB database 35-50 ms; so a pristine copy up to 1/16 of it.
_RETYPE_SIZE_FACTOR = 16

_SKIPPED_SCHEMAS = ("pg_catalog", "information_schema", REUSE_SCHEMA)

_BASE_DDL = f"""
CREATE SCHEMA {REUSE_SCHEMA};
COMMENT ON SCHEMA {REUSE_SCHEMA} IS
    'sspp-fixtures: pristine copies and change tracking that put a reused test database back in place';

CREATE UNLOGGED TABLE {REUSE_SCHEMA}.dirty (tbl oid NOT NULL, op "char" NOT NULL);

CREATE TABLE {REUSE_SCHEMA}.tracked (
    relid     oid PRIMARY KEY,
    qualified text NOT NULL,
    has_key   boolean NOT NULL
);

CREATE TABLE {REUSE_SCHEMA}.seqs (
    seq        oid PRIMARY KEY,
    qualified  text NOT NULL,
    last_value bigint NOT NULL,
    is_called  boolean NOT NULL
);

CREATE TABLE {REUSE_SCHEMA}.objects (classid oid NOT NULL, objid oid NOT NULL, PRIMARY KEY (classid, objid));

-- per tracked table: its highest column number, its shape (see shape()) and the part of it no restore can put back
-- (see fixed_shape()) in the template, and the file its rows are in since the last restore (a rewrite changes it)
CREATE TABLE {REUSE_SCHEMA}.shapes (
    relid     oid PRIMARY KEY,
    natts     smallint NOT NULL,
    shape     text NOT NULL,
    fixed     text NOT NULL,
    filenode  oid NOT NULL
);

-- tracked tables a test ran ALTER TABLE on: put back by undo_alters(), then checked against their shape
CREATE UNLOGGED TABLE {REUSE_SCHEMA}.altered (relid oid NOT NULL);

-- per tracked table outside inheritance: each template column's NOT NULL and default (spelt with search_path =
-- pg_catalog), which ALTER COLUMN SET/DROP DEFAULT and SET/DROP NOT NULL may change and put_back() restores
CREATE TABLE {REUSE_SCHEMA}.columns (
    relid   oid NOT NULL,
    attnum  smallint NOT NULL,
    not_null boolean NOT NULL,
    dflt    text,
    adoid   oid,  -- the default's pg_attrdef oid, followed as put_back() sets it again
    PRIMARY KEY (relid, attnum)
);

-- template indexes on those tables that DROP INDEX may drop and put_back() rebuilds (no constraint's index);
-- indexrelid follows each rebuild, as does objects
CREATE TABLE {REUSE_SCHEMA}.indexes (
    indexrelid oid PRIMARY KEY,
    relid      oid NOT NULL,
    name       name NOT NULL,
    def        text NOT NULL,
    note       text
);

CREATE UNLOGGED TABLE {REUSE_SCHEMA}.created (
    n       bigint GENERATED ALWAYS AS IDENTITY,
    classid oid NOT NULL,
    objid   oid NOT NULL
);

CREATE TABLE {REUSE_SCHEMA}.state (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    fingerprint text NOT NULL,
    format      integer NOT NULL,
    restore_xid xid8 NOT NULL,
    use_replica boolean NOT NULL,
    ntables     integer NOT NULL,
    restores    bigint NOT NULL DEFAULT 0
);

CREATE FUNCTION {REUSE_SCHEMA}.mark() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
    flag text := '{REUSE_SCHEMA}.m' || TG_RELID::text || substr(TG_OP, 1, 1);
BEGIN
    -- in a session whose transactions are all rolled back (isolation 'transaction' sets ROLLED_BACK) nothing is
    -- marked; a session setting notes the write instead, which outlives the transaction only if it commits after
    -- all (a raw COMMIT): the plugin reads it after its ROLLBACK and has every table put back whole
    IF pg_catalog.current_setting('{ROLLED_BACK}', true) = 'on' THEN
        IF pg_catalog.current_setting('{UNMARKED}', true) IS DISTINCT FROM 'on' THEN
            PERFORM pg_catalog.set_config('{UNMARKED}', 'on', false);
        END IF;
        RETURN NULL;
    END IF;
    -- once per table, operation and transaction: a transaction-local setting remembers it (no unique index,
    -- so two sessions writing the same table never wait on each other's marks)
    IF pg_catalog.current_setting(flag, true) IS DISTINCT FROM '1' THEN
        INSERT INTO {REUSE_SCHEMA}.dirty (tbl, op) VALUES (TG_RELID, substr(TG_OP, 1, 1)::"char");
        PERFORM pg_catalog.set_config(flag, '1', true);
    END IF;
    RETURN NULL;
END
$fn$;

CREATE FUNCTION {REUSE_SCHEMA}.on_ddl() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
BEGIN
    -- DDL on temporary objects (CREATE TEMP TABLE, DROP of one) dies with its session: ignored. A new object is
    -- remembered and dropped at the restore; ALTER TABLE on a tracked table is remembered and undone there; other
    -- DDL on a template object, or DDL naming no object (GRANT), is marked 'X'. One statement per event, so the
    -- server lists the commands (or dropped objects) once.
    IF TG_EVENT = 'ddl_command_end' THEN
        WITH c AS MATERIALIZED (
            SELECT c.classid, c.objid, c.command_tag,
                   (c.schema_name IS NULL OR c.schema_name NOT LIKE 'pg\\_temp%') AS lasting,
                   (c.command_tag = 'ALTER TABLE' AND c.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                    AND EXISTS (SELECT 1 FROM {REUSE_SCHEMA}.shapes s WHERE s.relid = c.objid)) AS alters_tracked
            FROM pg_catalog.pg_event_trigger_ddl_commands() c),
        other AS (
            INSERT INTO {REUSE_SCHEMA}.dirty (tbl, op)
            SELECT 0, 'X' WHERE EXISTS (
                SELECT 1 FROM c
                WHERE c.lasting AND NOT c.alters_tracked
                  AND (c.objid IS NULL OR EXISTS (
                      SELECT 1 FROM {REUSE_SCHEMA}.objects o WHERE o.classid = c.classid AND o.objid = c.objid)))),
        -- our mark trigger found disabled after an ALTER TABLE (DISABLE TRIGGER, ENABLE REPLICA TRIGGER): writes
        -- may go unmarked until it is enabled again, so the table is restored as after a TRUNCATE
        unmarked AS (
            INSERT INTO {REUSE_SCHEMA}.dirty (tbl, op)
            SELECT DISTINCT c.objid, 'T' FROM c
            JOIN pg_catalog.pg_trigger g ON g.tgrelid = c.objid AND g.tgname = '{_MARK_TRIGGER}'
            WHERE c.alters_tracked AND g.tgenabled <> 'A'),
        alters AS (
            INSERT INTO {REUSE_SCHEMA}.altered (relid)
            SELECT DISTINCT c.objid FROM c
            WHERE c.alters_tracked AND NOT EXISTS (SELECT 1 FROM {REUSE_SCHEMA}.altered a WHERE a.relid = c.objid))
        INSERT INTO {REUSE_SCHEMA}.created (classid, objid)
        SELECT DISTINCT c.classid, c.objid FROM c
        WHERE c.command_tag LIKE 'CREATE %' AND c.objid IS NOT NULL AND c.lasting
          AND NOT EXISTS (SELECT 1 FROM {REUSE_SCHEMA}.objects o WHERE o.classid = c.classid AND o.objid = c.objid)
          AND NOT EXISTS (SELECT 1 FROM {REUSE_SCHEMA}.created k WHERE k.classid = c.classid AND k.objid = c.objid);
    ELSE
        -- a column after a tracked table's last one is not the template's (a test added it); a template index
        -- put_back() can rebuild marks its table altered instead
        WITH d AS MATERIALIZED (
            SELECT d.classid, d.objid, d.objsubid, d.is_temporary
            FROM pg_catalog.pg_event_trigger_dropped_objects() d),
        other AS (
            INSERT INTO {REUSE_SCHEMA}.dirty (tbl, op)
            SELECT 0, 'X' WHERE EXISTS (
                SELECT 1 FROM d
                WHERE NOT d.is_temporary AND EXISTS (
                    SELECT 1 FROM {REUSE_SCHEMA}.objects o WHERE o.classid = d.classid AND o.objid = d.objid)
                  AND NOT (d.objsubid > 0 AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                           AND d.objsubid > (SELECT s.natts FROM {REUSE_SCHEMA}.shapes s WHERE s.relid = d.objid))
                  AND NOT (d.objsubid = 0 AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                           AND EXISTS (SELECT 1 FROM {REUSE_SCHEMA}.indexes x WHERE x.indexrelid = d.objid))
                  AND NOT (d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass
                           AND EXISTS (SELECT 1 FROM {REUSE_SCHEMA}.columns c WHERE c.adoid = d.objid))))
        INSERT INTO {REUSE_SCHEMA}.altered (relid)
        SELECT x.relid FROM d
        JOIN {REUSE_SCHEMA}.indexes x ON x.indexrelid = d.objid
        WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid = 0
          AND NOT EXISTS (SELECT 1 FROM {REUSE_SCHEMA}.altered a WHERE a.relid = x.relid)
        UNION
        SELECT c.relid FROM d
        JOIN {REUSE_SCHEMA}.columns c ON c.adoid = d.objid
        WHERE d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass
          AND NOT EXISTS (SELECT 1 FROM {REUSE_SCHEMA}.altered a WHERE a.relid = c.relid);
    END IF;
END
$fn$;
CREATE FUNCTION {REUSE_SCHEMA}.drop_created() RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
    k record;
    a record;
    target text;
BEGIN
    -- In creation order, each with CASCADE: a table goes before the indexes, sequences and views made with or on
    -- it, so those are gone when their turn comes. False when an object is of a kind this cannot drop.
    FOR k IN SELECT c.classid, c.objid FROM {REUSE_SCHEMA}.created c ORDER BY c.n LOOP
        SELECT * INTO a FROM pg_catalog.pg_identify_object_as_address(k.classid, k.objid, 0);
        CONTINUE WHEN a.object_names IS NULL;  -- dropped already
        target := (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(x.name), '.' ORDER BY x.i)
                   FROM unnest(a.object_names) WITH ORDINALITY AS x(name, i));
        IF a.type IN ('table', 'view', 'materialized view', 'sequence', 'index', 'foreign table', 'schema') THEN
            EXECUTE pg_catalog.format('DROP %s IF EXISTS %s CASCADE', pg_catalog.upper(a.type), target);
        ELSIF a.type = 'type' THEN  -- one name, already qualified and quoted (domains too)
            EXECUTE pg_catalog.format('DROP TYPE IF EXISTS %s CASCADE', a.object_names[1]);
        ELSIF a.type IN ('function', 'procedure', 'aggregate') THEN
            EXECUTE pg_catalog.format('DROP %s IF EXISTS %s(%s) CASCADE', pg_catalog.upper(a.type), target,
                                      pg_catalog.array_to_string(a.object_args, ', '));
        ELSIF a.type IN ('trigger', 'rule', 'policy') THEN
            EXECUTE pg_catalog.format('DROP %s IF EXISTS %I ON %I.%I CASCADE', pg_catalog.upper(a.type),
                                      a.object_names[3], a.object_names[1], a.object_names[2]);
        ELSE
            RETURN false;
        END IF;
    END LOOP;
    RETURN true;
END
$fn$;

CREATE FUNCTION {REUSE_SCHEMA}.shape(rel oid, natts smallint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog AS $fn$
    -- What ALTER TABLE can change in a table, as text: the relation, its first natts columns (with defaults), how
    -- many live columns come after them, constraints, triggers, indexes, policies, rules, comments, inheritance.
    -- Not a column's pg_attver: a version stamp some servers put on each column they make and renew when ALTER
    -- COLUMN ... TYPE rewrites it (and the columns after it); no statement sets it, and a type put back has a new one
    SELECT pg_catalog.concat_ws(E'\\n',
        (SELECT pg_catalog.format('rel %s %s %s %s %s %s %s %s %s %s %s %s', c.relname, c.relnamespace, c.relowner,
                c.relkind, c.relpersistence, c.reloptions, c.relacl, c.relrowsecurity, c.relforcerowsecurity,
                c.relreplident, c.reltablespace, c.relam)
         FROM pg_catalog.pg_class c WHERE c.oid = rel),
        (SELECT pg_catalog.string_agg(pg_catalog.format('att %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s',
                    a.attnum, a.attname, a.atttypid, a.atttypmod, a.attnotnull, a.attidentity, a.attgenerated,
                    a.attisdropped, a.attstattarget, a.attstorage, a.attcompression, a.attcollation, a.attacl,
                    ARRAY(SELECT o FROM unnest(a.attoptions) o WHERE o NOT LIKE 'pg\\_attver=%'),
                    pg_catalog.pg_get_expr(d.adbin, d.adrelid)), E'\\n' ORDER BY a.attnum)
         FROM pg_catalog.pg_attribute a
         LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attrelid = rel AND a.attnum > 0 AND a.attnum <= natts),
        (SELECT 'live columns after ' || count(*) FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = rel AND a.attnum > natts AND NOT a.attisdropped),
        (SELECT pg_catalog.string_agg(pg_catalog.format('con %s %s %s %s %s', co.conname, co.contype,
                    co.condeferrable, co.convalidated, pg_catalog.pg_get_constraintdef(co.oid)), E'\\n'
                    ORDER BY co.conname)
         FROM pg_catalog.pg_constraint co WHERE co.conrelid = rel),
        (SELECT pg_catalog.string_agg(pg_catalog.format('trg %s %s %s', t.tgname, t.tgenabled,
                    CASE WHEN t.tgisinternal THEN t.tgconstraint::text ELSE pg_catalog.pg_get_triggerdef(t.oid) END),
                    E'\\n' ORDER BY t.tgname)
         FROM pg_catalog.pg_trigger t WHERE t.tgrelid = rel),
        (SELECT pg_catalog.string_agg(pg_catalog.format('idx %s %s %s %s %s', ic.relname, i.indisvalid,
                    i.indisclustered, i.indisreplident, pg_catalog.pg_get_indexdef(i.indexrelid)), E'\\n'
                    ORDER BY ic.relname)
         FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = rel),
        (SELECT pg_catalog.string_agg(pg_catalog.format('pol %s %s %s %s %s %s', p.polname, p.polcmd,
                    p.polpermissive, p.polroles, pg_catalog.pg_get_expr(p.polqual, p.polrelid),
                    pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)), E'\\n' ORDER BY p.polname)
         FROM pg_catalog.pg_policy p WHERE p.polrelid = rel),
        (SELECT pg_catalog.string_agg(pg_catalog.format('rule %s %s', r.rulename, r.ev_enabled), E'\\n'
                    ORDER BY r.rulename)
         FROM pg_catalog.pg_rewrite r WHERE r.ev_class = rel),
        (SELECT pg_catalog.string_agg(pg_catalog.format('comment %s %s', e.objsubid, e.description), E'\\n'
                    ORDER BY e.objsubid)
         FROM pg_catalog.pg_description e
         WHERE e.objoid = rel AND e.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass),
        (SELECT pg_catalog.string_agg(pg_catalog.format('inherits %s %s', h.inhparent, h.inhseqno), E'\\n'
                    ORDER BY h.inhseqno)
         FROM pg_catalog.pg_inherits h WHERE h.inhrelid = rel),
        (SELECT 'children ' || count(*) FROM pg_catalog.pg_inherits h WHERE h.inhparent = rel),
        (SELECT pg_catalog.string_agg('statistics ' || x.stxname, E'\\n' ORDER BY x.stxname)
         FROM pg_catalog.pg_statistic_ext x WHERE x.stxrelid = rel))
$fn$;

CREATE FUNCTION {REUSE_SCHEMA}.fixed_shape(rel oid, natts smallint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog AS $fn$
    -- What of shape() neither undo_alters() nor put_back() can change: the relation's identity and each template
    -- column's name, type and storage; when it differs (ALTER COLUMN TYPE, RENAME, DROP COLUMN...), the database
    -- is replaced at once, without trying the undo first
    SELECT pg_catalog.concat_ws(E'\\n',
        (SELECT pg_catalog.format('rel %s %s %s %s %s', c.relname, c.relnamespace, c.relkind, c.relpersistence,
                c.relam)
         FROM pg_catalog.pg_class c WHERE c.oid = rel),
        (SELECT pg_catalog.string_agg(pg_catalog.format('att %s %s %s %s %s %s %s %s %s %s %s', a.attnum, a.attname,
                    a.atttypid, a.atttypmod, a.attidentity, a.attgenerated, a.attisdropped, a.attstattarget,
                    a.attstorage, a.attcompression, a.attcollation), E'\\n' ORDER BY a.attnum)
         FROM pg_catalog.pg_attribute a WHERE a.attrelid = rel AND a.attnum > 0 AND a.attnum <= natts))
$fn$;

CREATE FUNCTION {REUSE_SCHEMA}.undo_alters() RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    k record;
BEGIN
    -- What ALTER TABLE added to a tracked table goes: constraints the template does not hold, then columns after
    -- the template's last one (PostgreSQL keeps a dropped column's slot, invisible to queries). Whatever else it
    -- changed shows in shape() afterwards, and the database is replaced.
    FOR k IN SELECT co.conrelid::pg_catalog.regclass AS rel, co.conname
             FROM pg_catalog.pg_constraint co
             WHERE co.conrelid IN (SELECT a.relid FROM {REUSE_SCHEMA}.altered a)
               AND NOT EXISTS (SELECT 1 FROM {REUSE_SCHEMA}.objects o
                               WHERE o.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass AND o.objid = co.oid)
             ORDER BY co.oid DESC LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I CASCADE', k.rel, k.conname);
    END LOOP;
    FOR k IN SELECT a.attrelid::pg_catalog.regclass AS rel, a.attname
             FROM {REUSE_SCHEMA}.shapes s
             JOIN pg_catalog.pg_attribute a ON a.attrelid = s.relid AND a.attnum > s.natts AND NOT a.attisdropped
             WHERE s.relid IN (SELECT x.relid FROM {REUSE_SCHEMA}.altered x)
             ORDER BY a.attrelid, a.attnum DESC LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s DROP COLUMN IF EXISTS %I CASCADE', k.rel, k.attname);
    END LOOP;
END
$fn$;

CREATE FUNCTION {REUSE_SCHEMA}.undo_types() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
DECLARE
    k record;
    emptied oid[] := '{{}}';
    role text := pg_catalog.current_setting('session_replication_role');
BEGIN
    -- ALTER COLUMN ... TYPE on a template column put_back() knows (a plain table outside inheritance, the column
    -- neither identity nor generated, nothing but its default depending on it): the table is emptied, so no value
    -- needs converting, and the column gets its template type, typmod and collation back, as the pristine copy
    -- holds them; the rows come back from that copy as after a TRUNCATE. Anything else the change did still shows
    -- in shape() afterwards: the database is replaced. So is it when the table is over 1/{_RETYPE_SIZE_FACTOR} of
    -- the database (a clone is faster than reloading it).
    FOR k IN SELECT c.relid, a.attname, pg_catalog.format_type(p.atttypid, p.atttypmod) AS typ,
                    (SELECT pg_catalog.format(' COLLATE %I.%I', n.nspname, co.collname)
                     FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace n ON n.oid = co.collnamespace
                     WHERE co.oid = p.attcollation) AS coll
             FROM {REUSE_SCHEMA}.columns c
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.relid AND a.attnum = c.attnum AND NOT a.attisdropped
             JOIN pg_catalog.pg_attribute p
               ON p.attrelid = pg_catalog.format('{REUSE_SCHEMA}.p_%s', c.relid)::pg_catalog.regclass
              AND p.attname = a.attname AND p.attnum > 0 AND NOT p.attisdropped
             WHERE c.relid IN (SELECT x.relid FROM {REUSE_SCHEMA}.altered x)
               AND a.attidentity = '' AND a.attgenerated = ''
               AND (a.atttypid, a.atttypmod, a.attcollation) IS DISTINCT FROM (p.atttypid, p.atttypmod, p.attcollation)
               -- nothing but its default depends on the column (no index, constraint, owned sequence, statistics)
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                               WHERE d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                 AND d.refobjid = c.relid AND d.refobjsubid = c.attnum
                                 AND d.classid <> 'pg_catalog.pg_attrdef'::pg_catalog.regclass)
             ORDER BY c.relid, c.attnum LOOP
        IF k.relid <> ALL(emptied) THEN
            IF pg_catalog.pg_total_relation_size(pg_catalog.format('{REUSE_SCHEMA}.p_%s', k.relid)::pg_catalog.regclass)
               * {_RETYPE_SIZE_FACTOR} > pg_catalog.pg_database_size(pg_catalog.current_database()) THEN
                RAISE EXCEPTION 'a clone is faster than reloading %', k.relid::pg_catalog.regclass;  -- replaced
            END IF;
            PERFORM pg_catalog.set_config('session_replication_role', 'replica', true);  -- no foreign key acts
            EXECUTE pg_catalog.format('DELETE FROM %s', k.relid::pg_catalog.regclass);
            PERFORM pg_catalog.set_config('session_replication_role', role, true);
            INSERT INTO {REUSE_SCHEMA}.dirty (tbl, op) VALUES (k.relid, 'T');
            emptied := emptied || k.relid;
        END IF;
        EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I TYPE %s%s USING NULL',
                                  k.relid::pg_catalog.regclass, k.attname, k.typ, coalesce(k.coll, ''));
    END LOOP;
END
$fn$;

CREATE FUNCTION {REUSE_SCHEMA}.record_template() RETURNS void
LANGUAGE sql SET search_path = pg_catalog AS $fn$
    -- What put_back() restores, for tracked plain tables outside inheritance (ALTER TABLE on a parent recurses to
    -- children it does not see): columns neither generated nor identity, indexes no constraint or partition owns,
    -- valid, not CLUSTER ON nor REPLICA IDENTITY, in the default tablespace (pg_get_indexdef omits it)
    INSERT INTO {REUSE_SCHEMA}.columns (relid, attnum, not_null, dflt, adoid)
    SELECT a.attrelid, a.attnum, a.attnotnull, pg_catalog.pg_get_expr(d.adbin, d.adrelid), d.oid
    FROM {REUSE_SCHEMA}.tracked t
    JOIN pg_catalog.pg_class c ON c.oid = t.relid AND c.relkind = 'r'
    JOIN pg_catalog.pg_attribute a ON a.attrelid = t.relid AND a.attnum > 0 AND NOT a.attisdropped
                                   AND a.attgenerated = '' AND a.attidentity = ''
    LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE t.relid IN (h.inhrelid, h.inhparent));
    INSERT INTO {REUSE_SCHEMA}.indexes (indexrelid, relid, name, def, note)
    SELECT i.indexrelid, i.indrelid, ic.relname, pg_catalog.pg_get_indexdef(i.indexrelid),
           pg_catalog.obj_description(i.indexrelid, 'pg_class')
    FROM {REUSE_SCHEMA}.tracked t
    JOIN pg_catalog.pg_class c ON c.oid = t.relid AND c.relkind = 'r'
    JOIN pg_catalog.pg_index i ON i.indrelid = t.relid
    JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid AND ic.relkind = 'i' AND ic.reltablespace = 0
    WHERE i.indisvalid AND i.indisready AND NOT i.indisclustered AND NOT i.indisreplident
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE t.relid IN (h.inhrelid, h.inhparent))
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend p
                      WHERE p.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND p.objid = i.indexrelid
                        AND p.deptype IN ('i', 'e', 'x', 'P', 'S'));
$fn$;

CREATE FUNCTION {REUSE_SCHEMA}.put_back() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
DECLARE
    k record;
    fresh oid;
BEGIN
    -- On altered tables: template columns get back their default and NOT NULL (SET NOT NULL fails on a NULL the
    -- test wrote: the caller then replaces the database), dropped template indexes are rebuilt under their name,
    -- with their comment, and their new oid replaces the old in objects so later DDL on them is still seen.
    FOR k IN SELECT c.relid::pg_catalog.regclass AS rel, a.attname, c.not_null, c.dflt, a.attnotnull,
                    pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS now_dflt
             FROM {REUSE_SCHEMA}.columns c
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.relid AND a.attnum = c.attnum AND NOT a.attisdropped
             LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.relid AND d.adnum = c.attnum
             WHERE c.relid IN (SELECT x.relid FROM {REUSE_SCHEMA}.altered x)
               AND (a.attnotnull <> c.not_null OR pg_catalog.pg_get_expr(d.adbin, d.adrelid) IS DISTINCT FROM c.dflt)
             ORDER BY c.relid, c.attnum LOOP
        IF k.now_dflt IS DISTINCT FROM k.dflt THEN
            EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I %s', k.rel, k.attname,
                                      CASE WHEN k.dflt IS NULL THEN 'DROP DEFAULT' ELSE 'SET DEFAULT ' || k.dflt END);
        END IF;
        IF k.attnotnull <> k.not_null THEN
            EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I %s NOT NULL', k.rel, k.attname,
                                      CASE WHEN k.not_null THEN 'SET' ELSE 'DROP' END);
        END IF;
    END LOOP;
    -- a default set again is a new pg_attrdef row (so is one a test replaced): DROP DEFAULT must still be seen
    FOR k IN SELECT c.relid, c.attnum, c.adoid, d.oid AS fresh FROM {REUSE_SCHEMA}.columns c
             JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.relid AND d.adnum = c.attnum
             WHERE c.relid IN (SELECT x.relid FROM {REUSE_SCHEMA}.altered x) AND c.adoid <> d.oid LOOP
        DELETE FROM {REUSE_SCHEMA}.objects
        WHERE classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND objid = k.adoid;
        INSERT INTO {REUSE_SCHEMA}.objects VALUES ('pg_catalog.pg_attrdef'::pg_catalog.regclass, k.fresh)
        ON CONFLICT DO NOTHING;
        UPDATE {REUSE_SCHEMA}.columns SET adoid = k.fresh WHERE relid = k.relid AND attnum = k.attnum;
    END LOOP;
    FOR k IN SELECT x.indexrelid, x.relid, x.name, x.def, x.note FROM {REUSE_SCHEMA}.indexes x
             WHERE x.relid IN (SELECT a.relid FROM {REUSE_SCHEMA}.altered a)
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = x.indexrelid) LOOP
        EXECUTE k.def;
        SELECT i.indexrelid INTO STRICT fresh FROM pg_catalog.pg_index i
        JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = k.relid AND c.relname = k.name;
        IF k.note IS NOT NULL THEN  -- before objects knows it: a COMMENT on a template object would mark 'X'
            EXECUTE pg_catalog.format('COMMENT ON INDEX %s IS %L', fresh::pg_catalog.regclass, k.note);
        END IF;
        UPDATE {REUSE_SCHEMA}.objects SET objid = fresh
        WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND objid = k.indexrelid;
        UPDATE {REUSE_SCHEMA}.indexes SET indexrelid = fresh WHERE indexrelid = k.indexrelid;
        DELETE FROM {REUSE_SCHEMA}.created WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND objid = fresh;
    END LOOP;
END
$fn$;

CREATE FUNCTION {REUSE_SCHEMA}.release(
    wait_ms integer DEFAULT 5000, end_sessions boolean DEFAULT true, keep integer[] DEFAULT '{{}}',
    settings text[] DEFAULT '{{}}'
) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    st {REUSE_SCHEMA}.state%ROWTYPE;
    s record;
    ended integer[];
    changed boolean := false;
    deadline timestamptz := pg_catalog.clock_timestamp() + wait_ms * interval '1 millisecond';
BEGIN
    -- 0. sessions the caller keeps (all when NOT end_sessions, else those in keep) may not be running a statement
    --    or hold a transaction id: rows they wrote would predate this restore and survive the next one
    IF EXISTS (
        SELECT 1 FROM pg_catalog.pg_stat_activity a
        WHERE a.datname = pg_catalog.current_database() AND a.pid <> pg_catalog.pg_backend_pid()
          AND a.backend_type = 'client backend' AND (NOT end_sessions OR a.pid = ANY(keep))
          AND (a.state IS DISTINCT FROM 'idle' OR a.backend_xid IS NOT NULL)) THEN
        RETURN 'busy';
    END IF;

    -- 1. end the sessions the test left that could break the next test's isolation: inside a transaction or running
    --    a statement (it may still commit), holding a lock (advisory locks outlive transactions), or listening (the
    --    last statement of a listener is its LISTEN: the server shows no other sign). An idle session stays: a
    --    service's pool keeps its connections from test to test. Ended sessions are waited for.
    SELECT pg_catalog.array_agg(a.pid) INTO ended FROM pg_catalog.pg_stat_activity a
    WHERE end_sessions AND a.datname = pg_catalog.current_database() AND a.pid <> pg_catalog.pg_backend_pid()
      AND a.backend_type = 'client backend' AND a.pid <> ALL(keep)
      AND (a.state IS DISTINCT FROM 'idle' OR a.backend_xid IS NOT NULL OR a.backend_xmin IS NOT NULL
           OR EXISTS (SELECT 1 FROM pg_catalog.pg_locks l WHERE l.pid = a.pid)
           OR a.query ~* '(^|;)\\s*listen\\s');
    IF ended IS NOT NULL THEN
        PERFORM pg_catalog.pg_terminate_backend(x) FROM unnest(ended) AS x;
        LOOP
            PERFORM pg_catalog.pg_stat_clear_snapshot();
            EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.pid = ANY(ended));
            IF pg_catalog.clock_timestamp() > deadline THEN
                RETURN 'recycle:sessions';
            END IF;
            PERFORM pg_catalog.pg_sleep(0.0002);
        END LOOP;
    END IF;

    -- 2. what rows cannot put back
    IF EXISTS (SELECT 1 FROM {REUSE_SCHEMA}.dirty d WHERE d.op = 'X') THEN
        RETURN 'recycle:ddl';
    END IF;
    -- ALTER DATABASE fires no event trigger: flags and settings (ALTER DATABASE ... SET) are checked here; the
    -- settings must be exactly those the database was made with (``settings``, as pg_db_role_setting spells them)
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_database d
               WHERE d.datname = pg_catalog.current_database()
                 AND (d.datconnlimit <> -1 OR NOT d.datallowconn OR d.datistemplate
                      OR EXISTS (SELECT 1 FROM pg_catalog.pg_db_role_setting r
                                 WHERE r.setdatabase = d.oid
                                   AND (r.setrole <> 0 OR NOT (r.setconfig @> settings AND settings @> r.setconfig)))
                      OR (pg_catalog.cardinality(settings) > 0 AND NOT EXISTS (
                              SELECT 1 FROM pg_catalog.pg_db_role_setting r
                              WHERE r.setdatabase = d.oid AND r.setrole = 0)))) THEN
        RETURN 'recycle:database_settings';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_largeobject_metadata) THEN
        RETURN 'recycle:large_object';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_prepared_xacts p WHERE p.database = pg_catalog.current_database()) THEN
        RETURN 'recycle:prepared_transaction';
    END IF;

    -- 3. what ALTER TABLE added to tracked tables (columns, constraints) and the objects the test created (tables,
    --    indexes, views, functions, ...) go; that must not have taken a template object with it, and each altered
    --    table must be back in its template shape; the rows of one that was rewritten (a rewrite renews xmin: its
    --    file changed) or not a plain table without children are restored as after a TRUNCATE. A template column's
    --    type a test changed is put back first (undo_types(): its table emptied, restored whole). What no undo can
    --    put back (a column's name, a dropped column...) replaces the database without trying.
    IF EXISTS (SELECT 1 FROM {REUSE_SCHEMA}.altered) OR EXISTS (SELECT 1 FROM {REUSE_SCHEMA}.created) THEN
        BEGIN
            PERFORM {REUSE_SCHEMA}.undo_types();
        EXCEPTION WHEN OTHERS THEN
            RETURN 'recycle:ddl';
        END;
        IF EXISTS (SELECT 1 FROM {REUSE_SCHEMA}.shapes sh
                   WHERE sh.relid IN (SELECT a.relid FROM {REUSE_SCHEMA}.altered a)
                     AND {REUSE_SCHEMA}.fixed_shape(sh.relid, sh.natts) IS DISTINCT FROM sh.fixed) THEN
            RETURN 'recycle:ddl';
        END IF;
        BEGIN
            PERFORM {REUSE_SCHEMA}.undo_alters();
            IF NOT {REUSE_SCHEMA}.drop_created() THEN
                RETURN 'recycle:ddl';
            END IF;
            PERFORM {REUSE_SCHEMA}.put_back();  -- after drop_created: a test's index may hold a template index's name
        EXCEPTION WHEN OTHERS THEN
            RETURN 'recycle:ddl';
        END;
        IF EXISTS (SELECT 1 FROM {REUSE_SCHEMA}.dirty d WHERE d.op = 'X')
           OR EXISTS (SELECT 1 FROM {REUSE_SCHEMA}.shapes sh
                      WHERE sh.relid IN (SELECT a.relid FROM {REUSE_SCHEMA}.altered a)
                        AND {REUSE_SCHEMA}.shape(sh.relid, sh.natts) IS DISTINCT FROM sh.shape) THEN
            RETURN 'recycle:ddl';
        END IF;
        IF EXISTS (SELECT 1 FROM {REUSE_SCHEMA}.shapes sh
                   JOIN pg_catalog.pg_attribute a
                     ON a.attrelid = sh.relid AND a.attnum > sh.natts + {_DROPPED_COLUMNS_MAX}
                   WHERE sh.relid IN (SELECT x.relid FROM {REUSE_SCHEMA}.altered x)) THEN
            RETURN 'recycle:dropped_columns';  -- a table holds 1600 columns, dropped ones included
        END IF;
        INSERT INTO {REUSE_SCHEMA}.dirty (tbl, op)
        SELECT DISTINCT a.relid, 'T' FROM {REUSE_SCHEMA}.altered a
        JOIN {REUSE_SCHEMA}.shapes sh ON sh.relid = a.relid
        JOIN pg_catalog.pg_class c ON c.oid = a.relid
        WHERE c.relfilenode IS DISTINCT FROM sh.filenode OR c.relkind <> 'r'
           OR EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE a.relid IN (h.inhrelid, h.inhparent));
        DELETE FROM {REUSE_SCHEMA}.altered;
        DELETE FROM {REUSE_SCHEMA}.created;
        changed := true;
    END IF;
    SELECT * INTO STRICT st FROM {REUSE_SCHEMA}.state;
    IF (SELECT count(*) FROM pg_catalog.pg_trigger g
        WHERE g.tgname = '{_MARK_TRIGGER}' AND g.tgenabled = 'A') <> st.ntables
       OR (SELECT count(*) FROM pg_catalog.pg_event_trigger e
           WHERE e.evtname IN ('{_EVENT_TRIGGERS[0]}', '{_EVENT_TRIGGERS[1]}') AND e.evtenabled = 'A') <> 2 THEN
        RETURN 'recycle:triggers';
    END IF;
    IF EXISTS (SELECT 1 FROM {REUSE_SCHEMA}.dirty d
               WHERE NOT EXISTS (SELECT 1 FROM {REUSE_SCHEMA}.tracked k WHERE k.relid = d.tbl)) THEN
        RETURN 'recycle:untracked_table';
    END IF;

    -- 4. sequences (nextval fires no trigger): set back those that moved
    FOR s IN SELECT q.seq, q.last_value, q.is_called FROM {REUSE_SCHEMA}.seqs q
             WHERE pg_catalog.pg_sequence_last_value(q.seq::regclass)
                   IS DISTINCT FROM CASE WHEN q.is_called THEN q.last_value END LOOP
        PERFORM pg_catalog.setval(s.seq::regclass, s.last_value, s.is_called);
        changed := true;
    END LOOP;

    -- 5. tables: rows newer than the last restore go; after UPDATE/DELETE/TRUNCATE missing keys come back; the
    --    file each restored table is in is remembered, to tell whether a later ALTER TABLE rewrote it
    IF EXISTS (SELECT 1 FROM {REUSE_SCHEMA}.dirty) THEN
        UPDATE {REUSE_SCHEMA}.shapes sh SET filenode = c.relfilenode
        FROM pg_catalog.pg_class c
        WHERE c.oid = sh.relid AND c.relfilenode <> sh.filenode
          AND sh.relid IN (SELECT d.tbl FROM {REUSE_SCHEMA}.dirty d WHERE d.op = 'T');
        IF st.use_replica THEN  -- foreign keys and user triggers must not act on the restore's own changes
            SET LOCAL session_replication_role = replica;
        END IF;
        PERFORM {REUSE_SCHEMA}.restore_tables(pg_catalog.age(st.restore_xid::xid));
        changed := true;
    END IF;
    IF NOT changed THEN
        RETURN 'clean';
    END IF;
    DELETE FROM {REUSE_SCHEMA}.dirty;
    UPDATE {REUSE_SCHEMA}.state SET restore_xid = pg_catalog.pg_current_xact_id(), restores = restores + 1;
    RETURN 'restored';
END
$fn$;
"""

_EVENT_DDL = f"""
CREATE EVENT TRIGGER {_EVENT_TRIGGERS[0]} ON ddl_command_end EXECUTE FUNCTION {REUSE_SCHEMA}.on_ddl();
CREATE EVENT TRIGGER {_EVENT_TRIGGERS[1]} ON sql_drop EXECUTE FUNCTION {REUSE_SCHEMA}.on_ddl();
ALTER EVENT TRIGGER {_EVENT_TRIGGERS[0]} ENABLE ALWAYS;
ALTER EVENT TRIGGER {_EVENT_TRIGGERS[1]} ENABLE ALWAYS;
"""

_USER_RELATIONS = """
SELECT c.oid, n.nspname, c.relname, c.relkind
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = ANY(%s)
  AND n.nspname <> ALL(%s)
  AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp%%'
  AND NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_depend d
      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
  )
ORDER BY n.nspname, c.relname
"""


@dataclass(frozen=True)
class _Table:
    oid: int
    schema: str
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    identity_always: bool

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    @property
    def pristine(self) -> sql.Identifier:
        return sql.Identifier(REUSE_SCHEMA, f"p_{self.oid}")


def _tables(conn: psycopg.Connection[Any]) -> list[_Table]:
    tables: list[_Table] = []
    for oid, schema, name, _kind in conn.execute(_USER_RELATIONS, (["r", "p"], list(_SKIPPED_SCHEMAS))).fetchall():
        columns = conn.execute(
            "SELECT attname, attidentity FROM pg_catalog.pg_attribute "
            "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
            (oid,),
        ).fetchall()
        key = conn.execute(
            "SELECT a.attname FROM pg_catalog.pg_index i "
            "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
            "JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
            "WHERE i.indrelid = %s AND i.indisprimary ORDER BY k.ord",
            (oid,),
        ).fetchall()
        tables.append(
            _Table(
                oid=int(oid),
                schema=str(schema),
                name=str(name),
                columns=tuple(str(c[0]) for c in columns),
                key=tuple(str(k[0]) for k in key),
                identity_always=any(c[1] == "a" for c in columns),
            )
        )
    return tables


def _restore_block(table: _Table) -> sql.Composed:
    """The plpgsql that puts one dirty table back (``t.lost``: an UPDATE, DELETE or TRUNCATE touched it)."""
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in table.columns)
    overriding = sql.SQL(" OVERRIDING SYSTEM VALUE") if table.identity_always else sql.SQL("")
    newer = sql.SQL("DELETE FROM {} WHERE pg_catalog.age(xmin) < newer_than;").format(table.ident)
    if table.key:
        match = sql.SQL(" AND ").join(sql.SQL("x.{k} = p.{k}").format(k=sql.Identifier(k)) for k in table.key)
        return sql.SQL(
            "{newer}\n            IF t.lost THEN\n"
            "                INSERT INTO {table} ({columns}){overriding} SELECT {columns} FROM {pristine} p\n"
            "                WHERE NOT EXISTS (SELECT 1 FROM {table} x WHERE {match});\n"
            "            END IF;"
        ).format(
            newer=newer, table=table.ident, columns=columns, overriding=overriding, pristine=table.pristine, match=match
        )
    # No key to find what is missing: after UPDATE/DELETE/TRUNCATE the whole table is put back.
    return sql.SQL(
        "IF t.lost THEN\n"
        "                DELETE FROM {table};\n"
        "                INSERT INTO {table} ({columns}){overriding} SELECT {columns} FROM {pristine};\n"
        "            ELSE\n                {newer}\n            END IF;"
    ).format(newer=newer, table=table.ident, columns=columns, overriding=overriding, pristine=table.pristine)


def _restore_function(tables: list[_Table]) -> sql.Composed:
    """``restore_tables(newer_than)``: static SQL per table, so the keeper session plans each statement once."""
    branches = [
        sql.SQL("{kw} t.tbl = {oid} THEN\n            {block}").format(
            kw=sql.SQL("IF" if i == 0 else "ELSIF"), oid=sql.Literal(table.oid), block=_restore_block(table)
        )
        for i, table in enumerate(tables)
    ]
    body = sql.SQL("\n        ").join(branches) + sql.SQL("\n        END IF;") if branches else sql.SQL("NULL;")
    return sql.SQL(
        "CREATE FUNCTION {schema}.restore_tables(newer_than integer) RETURNS void LANGUAGE plpgsql AS $fn$\n"
        "DECLARE\n    t record;\nBEGIN\n"
        "    FOR t IN SELECT d.tbl, bool_or(d.op <> 'I') AS lost FROM {schema}.dirty d GROUP BY d.tbl LOOP\n"
        "        {body}\n    END LOOP;\nEND\n$fn$"
    ).format(schema=sql.Identifier(REUSE_SCHEMA), body=body)


def _needs_replica(conn: psycopg.Connection[Any], oids: list[int]) -> bool:
    """Whether restoring must silence other triggers: foreign keys or user triggers on the tracked tables."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = ANY(%s) AND tgname <> %s)",
        (oids, _MARK_TRIGGER),
    ).fetchone()
    return bool(row and row[0])


def install_reuse(conn: psycopg.Connection[Any], *, fingerprint: str, reuse_format: int) -> int:
    """Install the reuse machinery in the database ``conn`` is connected to (one transaction).

    Run it last, once the data is in place: the pristine copies are taken now, and the restore point is this
    transaction. Returns the number of tables tracked.
    """
    with conn.transaction():
        conn.execute(_BASE_DDL.encode())
        tables = _tables(conn)
        for table in tables:
            columns = sql.SQL(", ").join(sql.Identifier(c) for c in table.columns)
            conn.execute(sql.SQL("CREATE TABLE {} AS SELECT {} FROM {}").format(table.pristine, columns, table.ident))
            if table.key:
                conn.execute(
                    sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
                        table.pristine, sql.SQL(", ").join(sql.Identifier(k) for k in table.key)
                    )
                )
            conn.execute(
                sql.SQL("INSERT INTO {}.tracked VALUES (%s, %s, %s)").format(sql.Identifier(REUSE_SCHEMA)),
                (table.oid, f"{table.schema}.{table.name}", bool(table.key)),
            )
            conn.execute(
                sql.SQL(
                    "CREATE TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION {schema}.mark(); "
                    "ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}"
                ).format(trigger=sql.Identifier(_MARK_TRIGGER), table=table.ident, schema=sql.Identifier(REUSE_SCHEMA))
            )
        conn.execute(_restore_function(tables))
        sequences = conn.execute(_USER_RELATIONS, (["S"], list(_SKIPPED_SCHEMAS))).fetchall()
        for oid, schema, name, _kind in sequences:
            ident = sql.Identifier(schema, name)
            row = conn.execute(sql.SQL("SELECT last_value, is_called FROM {}").format(ident)).fetchone()
            assert row is not None
            conn.execute(
                sql.SQL("INSERT INTO {}.seqs VALUES (%s, %s, %s, %s)").format(sql.Identifier(REUSE_SCHEMA)),
                (oid, f"{schema}.{name}", row[0], row[1]),
            )
        use_replica = _needs_replica(conn, [t.oid for t in tables])
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.state (fingerprint, format, restore_xid, use_replica, ntables) "
                "VALUES (%s, %s, pg_catalog.pg_current_xact_id(), %s, %s)"
            ).format(sql.Identifier(REUSE_SCHEMA)),
            (fingerprint, reuse_format, use_replica, len(tables)),
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {schema}.shapes (relid, natts, shape, fixed, filenode) "
                "SELECT t.relid, n.natts, {schema}.shape(t.relid, n.natts), {schema}.fixed_shape(t.relid, n.natts), "
                "c.relfilenode FROM {schema}.tracked t "
                "JOIN pg_catalog.pg_class c ON c.oid = t.relid "
                "CROSS JOIN LATERAL (SELECT max(a.attnum)::smallint AS natts FROM pg_catalog.pg_attribute a "
                "WHERE a.attrelid = t.relid) n"
            ).format(schema=sql.Identifier(REUSE_SCHEMA))
        )
        conn.execute(sql.SQL("SELECT {}.record_template()").format(sql.Identifier(REUSE_SCHEMA)))
        conn.execute(_EVENT_DDL.encode())
        _record_objects(conn)
    return len(tables)


def _record_objects(conn: psycopg.Connection[Any]) -> None:
    """Fill ``objects`` with every object of the database (from each per-database catalog that has oids)."""
    catalogs = conn.execute(
        "SELECT c.oid::regclass::text FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = 'oid' "
        "WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind = 'r' AND NOT c.relisshared ORDER BY 1"
    ).fetchall()
    for (catalog,) in catalogs:
        conn.execute(
            sql.SQL("INSERT INTO {}.objects SELECT {}::regclass, oid FROM {}").format(
                sql.Identifier(REUSE_SCHEMA), sql.Literal(catalog), sql.Identifier("pg_catalog", catalog)
            )
        )


def mark_all_changed(conn: psycopg.Connection[Any]) -> None:
    """Have the next restore put every tracked table back whole, as after a TRUNCATE: for changes made where no
    mark was written (a rolled-back test whose transaction was committed all the same)."""
    conn.execute(
        sql.SQL("INSERT INTO {schema}.dirty (tbl, op) SELECT relid, 'T' FROM {schema}.tracked").format(
            schema=sql.Identifier(REUSE_SCHEMA)
        )
    )


def release_statement() -> str:
    """The one statement that ends a test's sessions and restores its database (returns the status text).

    Parameters: how long to wait for ended sessions to go (ms), whether to end them at all, the pids of sessions
    to keep, and the database's own settings (``name=value``, as ``pg_db_role_setting`` holds them). Kept
    sessions must be idle outside a transaction, else the status is ``busy``.
    """
    return f"SELECT {REUSE_SCHEMA}.release(%s, %s, %s, %s)"


class Status(StrEnum):
    """What a restore found, and what ``release()`` did with the database (``Outcome.path``)."""

    CLEAN = "clean"  # nothing to undo
    RESTORED = "restored"  # put back in place
    BUSY = "busy"  # a session the caller keeps is inside a transaction: nothing was done
    RECYCLED = "recycled"  # cannot be put back exactly: dropped, a fresh clone takes its place
    DROPPED = "dropped"  # a never-used clone, dropped after its one test

    @property
    def reused(self) -> bool:
        return self in (Status.CLEAN, Status.RESTORED)


def read_status(text: str) -> tuple[Status, str | None]:
    """The release function's answer as ``(status, reason)``: ``recycle:<reason>`` is ``RECYCLED`` and its reason."""
    kind, _, reason = text.partition(":")
    if kind == "recycle":
        return Status.RECYCLED, reason or None
    return Status(kind), None
