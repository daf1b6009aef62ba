import { StatesourceError } from '@statesource/core'
import { type Generated, type Kysely, sql } from 'kysely'
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration'

/**
 * Table names of the statesource schema; every table starts with `statesource_`.
 *
 * @example
 * ```ts
 * const count = sqlite.db!.prepare(`SELECT count(*) FROM ${TABLES.journal}`).pluck().get()
 * ```
 */
export const TABLES = {
  journal: 'statesource_journal',
  eventTag: 'statesource_event_tag',
  stream: 'statesource_stream',
  snapshot: 'statesource_snapshot',
  projectionOffset: 'statesource_projection_offset',
  migration: 'statesource_migration',
  migrationLock: 'statesource_migration_lock',
} as const

/**
 * One stored event: a row of `statesource_journal`.
 *
 * @example
 * ```ts
 * const row: Selectable<JournalTable> | undefined = await sqlite.kysely.selectFrom('statesource_journal').selectAll().executeTakeFirst()
 * ```
 */
export interface JournalTable {
  /** Global position, assigned by SQLite (`AUTOINCREMENT`: never reused). */
  ordering: Generated<number>
  persistence_id: string
  seq_nr: number
  event_type: string
  event_version: number
  /** JSON text. */
  payload: string
  /** JSON text. */
  metadata: string
  /** JSON array text, denormalised from `statesource_event_tag`. */
  tags: string
  /** Epoch milliseconds. */
  written_at: number
  writer_id: string
}

/**
 * The tag index: one row per (tag, event); primary key `(tag, ordering)`, `WITHOUT ROWID`.
 *
 * @example
 * ```ts
 * const tags = await sqlite.kysely.selectFrom('statesource_event_tag').select('tag').distinct().execute()
 * ```
 */
export interface EventTagTable {
  tag: string
  ordering: number
  persistence_id: string
  seq_nr: number
}

/**
 * One row per stream: creation order for `persistenceIds()` and the delete-to marker.
 *
 * @example
 * ```ts
 * const streams = await sqlite.kysely.selectFrom('statesource_stream').select(['persistence_id', 'deleted_to']).execute()
 * ```
 */
export interface StreamTable {
  persistence_id: string
  /** The ordering of the stream's first event. */
  position: number
  /** Events up to and including this sequence number were deleted. */
  deleted_to: number
}

/**
 * Aggregate snapshots, primary key `(persistence_id, seq_nr)`.
 *
 * @example
 * ```ts
 * const sizes = await sqlite.kysely.selectFrom('statesource_snapshot').select(['persistence_id', 'seq_nr']).execute()
 * ```
 */
export interface SnapshotTable {
  persistence_id: string
  seq_nr: number
  /** JSON text. */
  state: string
  machine_version: string
  written_at: number
}

/**
 * Reader offsets: the last global ordering a projection applied.
 *
 * @example
 * ```ts
 * const offsets = await sqlite.kysely.selectFrom('statesource_projection_offset').selectAll().execute()
 * ```
 */
export interface ProjectionOffsetTable {
  projection: string
  ordering: number
  updated_at: number
}

/**
 * The statesource tables as a Kysely database type, for typed queries over the journal.
 *
 * @example
 * ```ts
 * const sqlite = await openSqlite('app.db')
 * const rows = await sqlite.kysely.selectFrom('statesource_journal').select(['ordering', 'event_type']).execute()
 * ```
 */
export interface StatesourceTables {
  statesource_journal: JournalTable
  statesource_event_tag: EventTagTable
  statesource_stream: StreamTable
  statesource_snapshot: SnapshotTable
  statesource_projection_offset: ProjectionOffsetTable
}

const JOURNAL_COLUMNS = [
  'ordering',
  'persistence_id',
  'seq_nr',
  'event_type',
  'event_version',
  'payload',
  'metadata',
  'tags',
  'written_at',
  'writer_id',
] as const

const migrations: Record<string, Migration> = {
  '0001_journal': {
    async up(db) {
      await db.schema
        .createTable(TABLES.journal)
        .addColumn('ordering', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('persistence_id', 'text', (c) => c.notNull())
        .addColumn('seq_nr', 'integer', (c) => c.notNull())
        .addColumn('event_type', 'text', (c) => c.notNull())
        .addColumn('event_version', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('written_at', 'integer', (c) => c.notNull())
        .addColumn('writer_id', 'text', (c) => c.notNull())
        .addUniqueConstraint('statesource_journal_pid_seq_uq', ['persistence_id', 'seq_nr'])
        .execute()
      await db.schema
        .createTable(TABLES.eventTag)
        .addColumn('tag', 'text', (c) => c.notNull())
        .addColumn('ordering', 'integer', (c) => c.notNull())
        .addColumn('persistence_id', 'text', (c) => c.notNull())
        .addColumn('seq_nr', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('statesource_event_tag_pk', ['tag', 'ordering'])
        .modifyEnd(sql`without rowid`)
        .execute()
      await db.schema
        .createTable(TABLES.stream)
        .addColumn('persistence_id', 'text', (c) => c.primaryKey())
        .addColumn('position', 'integer', (c) => c.notNull().unique())
        .addColumn('deleted_to', 'integer', (c) => c.notNull().defaultTo(0))
        .execute()
      await db.schema
        .createTable(TABLES.snapshot)
        .addColumn('persistence_id', 'text', (c) => c.notNull())
        .addColumn('seq_nr', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('machine_version', 'text', (c) => c.notNull())
        .addColumn('written_at', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('statesource_snapshot_pk', ['persistence_id', 'seq_nr'])
        .execute()
      await db.schema
        .createTable(TABLES.projectionOffset)
        .addColumn('projection', 'text', (c) => c.primaryKey())
        .addColumn('ordering', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'integer', (c) => c.notNull())
        .execute()
    },
  },
}

/** The names of the migrations this version of the package knows, in order. */
export const MIGRATION_NAMES: readonly string[] = Object.keys(migrations)

const provider: MigrationProvider = { getMigrations: async () => migrations }

/**
 * Brings the statesource tables up to date. Fails with `SCHEMA_MISMATCH` when the file holds statesource
 * tables this code did not create or a schema newer than this code.
 *
 * @remarks
 * When nothing is pending (every open but the first) no write lock is taken. Otherwise the migrations run
 * inside one `BEGIN IMMEDIATE` transaction, so two processes opening the same new file do not race. The lock
 * is awaited by retrying with SQLite's busy timeout set to 0: a blocking wait would freeze the event loop,
 * which deadlocks when the holder is another connection of the same process.
 */
export async function migrateStatesource(kysely: Kysely<any>, where: string): Promise<void> {
  if (await checkBeforeMigrating(kysely, where)) {
    await checkAfterMigrating(kysely, where)
    return
  }
  await kysely.connection().execute(async (connection) => {
    await beginImmediate(connection)
    try {
      await checkBeforeMigrating(connection, where)
      const migrator = new Migrator({
        db: connection,
        provider,
        migrationTableName: TABLES.migration,
        migrationLockTableName: TABLES.migrationLock,
        disableTransactions: true,
      })
      const { error } = await migrator.migrateToLatest()
      if (error) throw error
      await checkAfterMigrating(connection, where)
      await sql`commit`.execute(connection)
    } catch (error) {
      await sql`rollback`.execute(connection).catch(() => undefined)
      throw error
    }
  })
}

/**
 * Checks, without writing, that the database holds an up-to-date statesource schema: what read-only opens
 * need. Fails with `SCHEMA_MISMATCH` on a file without statesource's tables (any other SQLite database, an
 * empty file), on one a newer package wrote, and on one with migrations still to run.
 */
export async function checkStatesourceSchema(kysely: Kysely<any>, where: string): Promise<void> {
  const tables = await tableNames(kysely)
  if (!tables.has(TABLES.migration) && !tables.has(TABLES.journal)) {
    throw new StatesourceError(
      'SCHEMA_MISMATCH',
      `${capitalize(where)} has no statesource tables: it is not a statesource database (or it was never opened by an application). Pass the SQLite file your application writes with @statesource/sqlite.`,
    )
  }
  if (!(await checkBeforeMigrating(kysely, where))) {
    throw new StatesourceError(
      'SCHEMA_MISMATCH',
      `${capitalize(where)} has an older statesource schema with migrations still to run. Open it once with the application (openSqlite migrates it), then inspect it.`,
    )
  }
  await checkAfterMigrating(kysely, where)
}

async function beginImmediate(connection: Kysely<any>): Promise<void> {
  const { rows } = await sql<{ timeout: number }>`pragma busy_timeout`.execute(connection)
  const busyTimeoutMs = Number(rows[0]?.timeout ?? 0)
  const deadline = Date.now() + Math.max(busyTimeoutMs, 1000)
  await sql`pragma busy_timeout = 0`.execute(connection)
  try {
    for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
      try {
        await sql`begin immediate`.execute(connection)
        return
      } catch (error) {
        if (!isBusy(error) || Date.now() > deadline) throw error
        await new Promise((resolve) => setTimeout(resolve, wait))
      }
    }
  } finally {
    await sql.raw(`pragma busy_timeout = ${busyTimeoutMs}`).execute(connection)
  }
}

function isBusy(error: unknown): boolean {
  const code = String((error as { code?: unknown } | null)?.code ?? '')
  return code.startsWith('SQLITE_BUSY') || /database is locked/i.test(String((error as Error)?.message))
}

async function tableNames(kysely: Kysely<any>): Promise<Set<string>> {
  const { rows } = await sql<{ name: string }>`
    select name from sqlite_master where type = 'table' and name like 'statesource\\_%' escape '\\'
  `.execute(kysely)
  return new Set(rows.map((r) => r.name))
}

/** Throws when the schema is foreign or newer; resolves `true` when every known migration ran. */
async function checkBeforeMigrating(kysely: Kysely<any>, where: string): Promise<boolean> {
  const tables = await tableNames(kysely)
  if (!tables.has(TABLES.migration)) {
    if (tables.has(TABLES.journal)) {
      throw new StatesourceError(
        'SCHEMA_MISMATCH',
        `${capitalize(where)} has a "${TABLES.journal}" table but no "${TABLES.migration}" table: it was not created by @statesource/sqlite. Open a statesource database or a new file.`,
      )
    }
    return false
  }
  const { rows } = await sql<{ name: string }>`select name from ${sql.table(TABLES.migration)}`.execute(
    kysely,
  )
  const executed = rows.map((r) => r.name)
  const unknown = executed.filter((name) => !MIGRATION_NAMES.includes(name))
  if (unknown.length > 0) {
    throw new StatesourceError(
      'SCHEMA_MISMATCH',
      `${capitalize(where)} has a newer statesource schema than this version of @statesource/sqlite understands (unknown migrations: ${unknown.map((n) => `"${n}"`).join(', ')}). Upgrade @statesource/sqlite to the version that wrote it.`,
    )
  }
  return MIGRATION_NAMES.every((name) => executed.includes(name))
}

async function checkAfterMigrating(kysely: Kysely<any>, where: string): Promise<void> {
  const { rows } = await sql<{ name: string }>`select name from pragma_table_info(${TABLES.journal})`.execute(
    kysely,
  )
  const columns = new Set(rows.map((r) => r.name))
  const missing = JOURNAL_COLUMNS.filter((c) => !columns.has(c))
  if (missing.length > 0) {
    throw new StatesourceError(
      'SCHEMA_MISMATCH',
      `${capitalize(where)}: table "${TABLES.journal}" lacks the columns ${missing.map((c) => `"${c}"`).join(', ')}, so it was not written by @statesource/sqlite. Open a statesource database or a new file.`,
    )
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
