import { StatesourceError } from '@statesource/core'
import { type Kysely, sql } from 'kysely'
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration'

/**
 * Table names of the statesource schema; every table starts with `statesource_` and lives in the schema
 * given to `openPostgres` (default `public`).
 *
 * @example
 * ```ts
 * const { rows } = await pg.kysely.executeQuery(CompiledQuery.raw(`SELECT count(*) FROM ${TABLES.journal}`))
 * ```
 */
export const TABLES = {
  journal: 'statesource_journal',
  eventTag: 'statesource_event_tag',
  stream: 'statesource_stream',
  head: 'statesource_head',
  snapshot: 'statesource_snapshot',
  projectionOffset: 'statesource_projection_offset',
  deadLetter: 'statesource_dead_letter',
  schedule: 'statesource_schedule',
  migration: 'statesource_migration',
  migrationLock: 'statesource_migration_lock',
} as const

/** The name of the append function the migrations create (one call per group commit). */
export const APPEND_FUNCTION = 'statesource_append'

/**
 * One stored event: a row of `statesource_journal`. Integers are `bigint` columns, which `pg` returns as
 * strings unless told otherwise; statesource converts them itself.
 *
 * @example
 * ```ts
 * const rows = await pg.kysely.selectFrom('statesource_journal').select(['ordering', 'event_type']).execute()
 * ```
 */
export interface JournalTable {
  /** Global position: dense (1, 2, 3, ...), handed out in commit order under the head-counter lock. */
  ordering: string | number
  persistence_id: string
  seq_nr: string | number
  event_type: string
  event_version: number
  /** `json` (not `jsonb`: kept exactly as written, and `\u0000` in strings is allowed). */
  payload: unknown
  metadata: unknown
  /** `json` array of the event's tags. */
  tags: unknown
  /** Epoch milliseconds. */
  written_at: string | number
  writer_id: string
}

/**
 * The tag index: one row per (tag, event), primary key `(tag, ordering)`.
 *
 * @example
 * ```ts
 * const tags = await pg.kysely.selectFrom('statesource_event_tag').select('tag').distinct().execute()
 * ```
 */
export interface EventTagTable {
  tag: string
  ordering: string | number
  persistence_id: string
  seq_nr: string | number
}

/**
 * One row per stream: its highest sequence number (the row every append to the stream locks), creation
 * order for `persistenceIds()` and the delete-to marker.
 *
 * @example
 * ```ts
 * const streams = await pg.kysely.selectFrom('statesource_stream').select(['persistence_id', 'seq_nr']).execute()
 * ```
 */
export interface StreamTable {
  persistence_id: string
  /** The highest sequence number ever written, deleted events included. */
  seq_nr: string | number
  /** The ordering of the stream's first event; `NULL` until one is stored. */
  position: string | number | null
  /** Events up to and including this sequence number were deleted. */
  deleted_to: string | number
}

/**
 * The head counter: one row holding the highest ordering handed out. Every append that stores events
 * locks it, which is what keeps orderings dense and in commit order.
 *
 * @example
 * ```ts
 * const head = await pg.kysely.selectFrom('statesource_head').select('ordering').executeTakeFirst()
 * ```
 */
export interface HeadTable {
  id: number
  ordering: string | number
}

/**
 * Aggregate snapshots, primary key `(persistence_id, seq_nr)`.
 *
 * @example
 * ```ts
 * const sizes = await pg.kysely.selectFrom('statesource_snapshot').select(['persistence_id', 'seq_nr']).execute()
 * ```
 */
export interface SnapshotTable {
  persistence_id: string
  seq_nr: string | number
  state: unknown
  machine_version: string
  written_at: string | number
}

/**
 * Reader offsets: the last global ordering a projection applied.
 *
 * @example
 * ```ts
 * const offsets = await pg.kysely.selectFrom('statesource_projection_offset').selectAll().execute()
 * ```
 */
export interface ProjectionOffsetTable {
  projection: string
  ordering: string | number
  updated_at: string | number
}

/**
 * Events readers parked after their retries failed.
 *
 * @example
 * ```ts
 * const parked = await pg.kysely.selectFrom('statesource_dead_letter').select(['id', 'projection']).execute()
 * ```
 */
export interface DeadLetterTable {
  id: string | number
  projection: string
  envelope: unknown
  error: string
  attempts: number
  parked_at: string | number
}

/**
 * Durable scheduled commands.
 *
 * @example
 * ```ts
 * const pending = await pg.kysely.selectFrom('statesource_schedule').selectAll().where('status', '=', 'pending').execute()
 * ```
 */
export interface ScheduleTable {
  id: string
  aggregate_type: string
  aggregate_id: string
  command: unknown
  due_at: string | number
  command_id: string
  metadata: unknown
  created_at: string | number
  status: 'pending' | 'fired' | 'cancelled' | 'failed'
  settled_at: string | number | null
  error: string | null
}

/**
 * The statesource tables as a Kysely database type, for typed queries over the journal (with the
 * `schema` option, qualify them: `kysely.withSchema(schema)`).
 *
 * @example
 * ```ts
 * const pg = await openPostgres('postgres://localhost/app')
 * const rows = await pg.kysely.selectFrom('statesource_journal').select(['ordering', 'event_type']).execute()
 * ```
 */
export interface StatesourceTables {
  statesource_journal: JournalTable
  statesource_event_tag: EventTagTable
  statesource_stream: StreamTable
  statesource_head: HeadTable
  statesource_snapshot: SnapshotTable
  statesource_projection_offset: ProjectionOffsetTable
  statesource_dead_letter: DeadLetterTable
  statesource_schedule: ScheduleTable
}

/** `"schema"."name"`, for SQL text. */
export function qualified(schema: string, name: string): string {
  return `${quoteIdentifier(schema)}.${quoteIdentifier(name)}`
}

export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/**
 * The group-commit function. One call appends a whole batch in the caller's transaction (or its own):
 * 1. every stream of the batch gets a row (created in sorted order), then the rows are locked in sorted
 *    order, so two writers never deadlock;
 * 2. each request is checked against its stream's sequence number; only matching ones go on, so a stale
 *    request fails alone and nothing of it is written (no savepoint, no unique violation);
 * 3. the head counter is bumped once for all accepted events (the only global step, skipped when none):
 *    its row lock is held until commit, and PostgreSQL makes a commit visible before releasing locks, so
 *    orderings are handed out in commit order and a rolled-back batch leaves no hole;
 * 4. events, tags and stream heads are written from the arrays with `unnest`, and the new head is sent
 *    with `pg_notify` (delivered at commit).
 * Requests of one batch have distinct persistence ids (the journal defers a repeat to the next batch).
 * Returns per request whether it was accepted and the stream's sequence number before, and the ordering
 * after which the accepted events were numbered, in request and event order.
 */
function appendFunctionSql(schema: string): string {
  const q = (name: string) => qualified(schema, name)
  return `
CREATE FUNCTION ${q(APPEND_FUNCTION)}(
  r_pids text[], r_expected bigint[], r_counts int[], r_first int[],
  e_request int[], e_index int[], e_types text[], e_versions int[],
  e_payloads text[], e_metadata text[], e_tags text[],
  t_event int[], t_tags text[],
  p_now bigint, p_writer text, p_channel text,
  OUT accepted boolean[], OUT current_seq bigint[], OUT base bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_rank int[];
  v_count int;
BEGIN
  INSERT INTO ${q(TABLES.stream)} (persistence_id)
    SELECT DISTINCT p FROM unnest(r_pids) p ORDER BY p
    ON CONFLICT (persistence_id) DO NOTHING;
  PERFORM 1 FROM ${q(TABLES.stream)} s WHERE s.persistence_id = ANY (r_pids)
    ORDER BY s.persistence_id FOR UPDATE;

  SELECT array_agg(s.seq_nr = r.expected ORDER BY r.i), array_agg(s.seq_nr ORDER BY r.i)
    INTO accepted, current_seq
    FROM unnest(r_pids, r_expected) WITH ORDINALITY r(pid, expected, i)
    JOIN ${q(TABLES.stream)} s ON s.persistence_id = r.pid;

  -- Per event, its rank among the accepted events of the batch (NULL when its request was refused).
  SELECT array_agg(x.rank ORDER BY x.n), coalesce(max(x.rank), 0) INTO v_rank, v_count FROM (
    SELECT e.n, CASE WHEN accepted[e.req] THEN
      count(*) FILTER (WHERE accepted[e.req]) OVER (ORDER BY e.n) END AS rank
    FROM unnest(e_request) WITH ORDINALITY e(req, n)) x;

  IF v_count = 0 THEN
    base := NULL;
  ELSE
    UPDATE ${q(TABLES.head)} SET ordering = ordering + v_count WHERE id = 1
      RETURNING ordering - v_count INTO base;

    INSERT INTO ${q(TABLES.journal)}
      (ordering, persistence_id, seq_nr, event_type, event_version, payload, metadata, tags, written_at, writer_id)
    SELECT base + v_rank[e.n], r_pids[e.req], r_expected[e.req] + e.k, e.typ, e.ver,
           e.payload::json, e.meta::json, e.tags::json, p_now, p_writer
      FROM unnest(e_request, e_index, e_types, e_versions, e_payloads, e_metadata, e_tags)
           WITH ORDINALITY e(req, k, typ, ver, payload, meta, tags, n)
     WHERE accepted[e.req];

    INSERT INTO ${q(TABLES.eventTag)} (tag, ordering, persistence_id, seq_nr)
    SELECT t.tag, base + v_rank[t.n], r_pids[e_request[t.n]], r_expected[e_request[t.n]] + e_index[t.n]
      FROM unnest(t_event, t_tags) t(n, tag)
     WHERE accepted[e_request[t.n]];

    UPDATE ${q(TABLES.stream)} s
       SET seq_nr = r.expected + r.cnt,
           position = coalesce(s.position, base + v_rank[r.first_event])
      FROM unnest(r_pids, r_expected, r_counts, r_first) WITH ORDINALITY r(pid, expected, cnt, first_event, i)
     WHERE s.persistence_id = r.pid AND accepted[r.i] AND r.cnt > 0;

    PERFORM pg_notify(p_channel, (base + v_count)::text);
  END IF;
END
$fn$`
}

function migrations(schema: string): Record<string, Migration> {
  const q = (name: string) => qualified(schema, name)
  return {
    '0001_journal': {
      async up(db) {
        const statements = [
          `CREATE TABLE ${q(TABLES.head)} (id int PRIMARY KEY CHECK (id = 1), ordering bigint NOT NULL)`,
          `INSERT INTO ${q(TABLES.head)} (id, ordering) VALUES (1, 0)`,
          `CREATE TABLE ${q(TABLES.stream)} (
            persistence_id text PRIMARY KEY,
            seq_nr bigint NOT NULL DEFAULT 0,
            position bigint UNIQUE,
            deleted_to bigint NOT NULL DEFAULT 0)`,
          `CREATE TABLE ${q(TABLES.journal)} (
            ordering bigint PRIMARY KEY,
            persistence_id text NOT NULL,
            seq_nr bigint NOT NULL,
            event_type text NOT NULL,
            event_version int NOT NULL DEFAULT 1,
            payload json NOT NULL,
            metadata json NOT NULL,
            tags json NOT NULL,
            written_at bigint NOT NULL,
            writer_id text NOT NULL,
            CONSTRAINT statesource_journal_pid_seq_uq UNIQUE (persistence_id, seq_nr))`,
          `CREATE TABLE ${q(TABLES.eventTag)} (
            tag text NOT NULL,
            ordering bigint NOT NULL,
            persistence_id text NOT NULL,
            seq_nr bigint NOT NULL,
            CONSTRAINT statesource_event_tag_pk PRIMARY KEY (tag, ordering))`,
          `CREATE TABLE ${q(TABLES.snapshot)} (
            persistence_id text NOT NULL,
            seq_nr bigint NOT NULL,
            state json NOT NULL,
            machine_version text NOT NULL,
            written_at bigint NOT NULL,
            CONSTRAINT statesource_snapshot_pk PRIMARY KEY (persistence_id, seq_nr))`,
          `CREATE TABLE ${q(TABLES.projectionOffset)} (
            projection text PRIMARY KEY,
            ordering bigint NOT NULL,
            updated_at bigint NOT NULL)`,
          `CREATE TABLE ${q(TABLES.deadLetter)} (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            projection text NOT NULL,
            envelope json NOT NULL,
            error text NOT NULL,
            attempts int NOT NULL,
            parked_at bigint NOT NULL)`,
          `CREATE INDEX statesource_dead_letter_projection_idx ON ${q(TABLES.deadLetter)} (projection, id)`,
          `CREATE TABLE ${q(TABLES.schedule)} (
            id text PRIMARY KEY,
            aggregate_type text NOT NULL,
            aggregate_id text NOT NULL,
            command json NOT NULL,
            due_at bigint NOT NULL,
            command_id text NOT NULL,
            metadata json NOT NULL,
            created_at bigint NOT NULL,
            status text NOT NULL,
            settled_at bigint,
            error text)`,
          `CREATE INDEX statesource_schedule_pending_idx ON ${q(TABLES.schedule)} (status, due_at)`,
          appendFunctionSql(schema),
        ]
        for (const statement of statements) await sql.raw(statement).execute(db)
      },
    },
  }
}

/** The names of the migrations this version of the package knows, in order. */
export const MIGRATION_NAMES: readonly string[] = Object.keys(migrations('public'))

/**
 * Brings the statesource tables in `schema` up to date (creating the schema if needed), under the
 * library's own migration table `statesource_migration` in that schema. Two processes opening a new
 * database at once are serialized by Kysely's migration lock (a row lock in PostgreSQL).
 * Fails with `SCHEMA_MISMATCH` when the schema holds statesource tables this code did not create, or
 * migrations newer than this code.
 */
export async function migrateStatesource(kysely: Kysely<any>, schema: string, where: string): Promise<void> {
  await sql.raw(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`).execute(kysely)
  const tables = await tableNames(kysely, schema)
  if (!tables.has(TABLES.migration) && tables.has(TABLES.journal)) {
    throw new StatesourceError(
      'SCHEMA_MISMATCH',
      `${where} has a "${TABLES.journal}" table in schema "${schema}" but no "${TABLES.migration}" table: it was not created by @statesource/postgres. Use another schema (option \`schema\`) or another database.`,
    )
  }
  if (tables.has(TABLES.migration)) {
    const { rows } = await sql<{
      name: string
    }>`select name from ${sql.table(`${schema}.${TABLES.migration}`)}`.execute(kysely)
    const unknown = rows.map((r) => r.name).filter((name) => !MIGRATION_NAMES.includes(name))
    if (unknown.length > 0) {
      throw new StatesourceError(
        'SCHEMA_MISMATCH',
        `${where} has a newer statesource schema in "${schema}" than this version of @statesource/postgres understands (unknown migrations: ${unknown.map((n) => `"${n}"`).join(', ')}). Upgrade @statesource/postgres to the version that wrote it.`,
      )
    }
    if (MIGRATION_NAMES.every((name) => rows.some((r) => r.name === name))) return
  }
  const provider: MigrationProvider = { getMigrations: async () => migrations(schema) }
  const migrator = new Migrator({
    db: kysely,
    provider,
    migrationTableName: TABLES.migration,
    migrationLockTableName: TABLES.migrationLock,
    migrationTableSchema: schema,
  })
  const { error } = await migrator.migrateToLatest()
  if (error) throw error
}

async function tableNames(kysely: Kysely<any>, schema: string): Promise<Set<string>> {
  const { rows } = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = ${schema} and table_name like 'statesource\\_%'
  `.execute(kysely)
  return new Set(rows.map((r) => r.name))
}
