import {
  checkText,
  duplicateScheduleError,
  type ScheduleSettlement,
  type ScheduleStore,
  StatesourceError,
  type StoredSchedule,
} from '@statesource/core'
import { type Kysely, sql } from 'kysely'

/** The table that holds durable scheduled commands. */
export const SCHEDULE_TABLE = 'statesource_schedule'

/**
 * One row of `statesource_schedule`: a scheduled command and its status.
 *
 * @example
 * ```ts
 * const pending = await sqlite.kysely.withTables<{ statesource_schedule: ScheduleTable }>()
 *   .selectFrom('statesource_schedule').selectAll().where('status', '=', 'pending').execute()
 * ```
 */
export interface ScheduleTable {
  id: string
  aggregate_type: string
  aggregate_id: string
  /** JSON text. */
  command: string
  /** Epoch milliseconds. */
  due_at: number
  command_id: string
  /** JSON text. */
  metadata: string
  created_at: number
  status: 'pending' | 'fired' | 'cancelled' | 'failed'
  settled_at: number | null
  error: string | null
}

type Db = Kysely<{ statesource_schedule: ScheduleTable }>

/**
 * A {@link ScheduleStore} in the statesource SQLite database (table `statesource_schedule`, created on
 * first use with `create table if not exists`, so it can share the journal's file and survives restarts).
 * Create it with {@link createSqliteScheduleStore}.
 *
 * @example
 * ```ts
 * const sqlite = await openSqlite('app.db')
 * const store = await createSqliteScheduleStore(sqlite)
 * const scheduler = createDurableScheduler({ store, handles })
 * ```
 */
export class SqliteScheduleStore implements ScheduleStore {
  readonly #db: Db

  /** @internal Use {@link createSqliteScheduleStore}, which creates the table first. */
  constructor(kysely: Kysely<any>) {
    this.#db = kysely as Db
  }

  async add(schedule: StoredSchedule): Promise<void> {
    // Text columns: refuse what SQLite would store changed (a lone surrogate), naming the field.
    checkText(schedule.id, 'schedule id')
    checkText(schedule.aggregateId, 'aggregate id')
    checkText(schedule.commandId, 'commandId')
    try {
      await this.#db
        .insertInto(SCHEDULE_TABLE)
        .values({
          id: schedule.id,
          aggregate_type: schedule.aggregateType,
          aggregate_id: schedule.aggregateId,
          command: JSON.stringify(schedule.command),
          due_at: schedule.dueAt,
          command_id: schedule.commandId,
          metadata: JSON.stringify(schedule.metadata ?? {}),
          created_at: schedule.createdAt,
          status: schedule.status,
          settled_at: schedule.settledAt ?? null,
          error: schedule.error ?? null,
        })
        .execute()
    } catch (error) {
      if (/UNIQUE constraint failed/i.test((error as Error)?.message ?? ''))
        throw duplicateScheduleError(schedule.id)
      throw storeFailure(`Storing schedule "${schedule.id}"`, error)
    }
  }

  async pending(): Promise<StoredSchedule[]> {
    const rows = await this.#read('Reading pending schedules', () =>
      this.#db
        .selectFrom(SCHEDULE_TABLE)
        .selectAll()
        .where('status', '=', 'pending')
        .orderBy('due_at')
        .orderBy('id')
        .execute(),
    )
    return rows.map(toStored)
  }

  async get(id: string): Promise<StoredSchedule | undefined> {
    const row = await this.#read(`Reading schedule "${id}"`, () =>
      this.#db.selectFrom(SCHEDULE_TABLE).selectAll().where('id', '=', id).executeTakeFirst(),
    )
    return row ? toStored(row) : undefined
  }

  async settle(id: string, settlement: ScheduleSettlement): Promise<boolean> {
    // Compare-and-set on status: of a fire and a cancel racing (even from two processes), one wins.
    const result = await this.#read(`Settling schedule "${id}"`, () =>
      this.#db
        .updateTable(SCHEDULE_TABLE)
        .set({ status: settlement.status, settled_at: settlement.at, error: settlement.error ?? null })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .executeTakeFirst(),
    )
    return Number(result.numUpdatedRows) > 0
  }

  async purge(before: number): Promise<number> {
    const result = await this.#read('Purging settled schedules', () =>
      this.#db
        .deleteFrom(SCHEDULE_TABLE)
        .where('status', '!=', 'pending')
        .where('settled_at', '<', before)
        .executeTakeFirst(),
    )
    return Number(result.numDeletedRows)
  }

  async #read<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run()
    } catch (error) {
      throw storeFailure(what, error)
    }
  }
}

/**
 * Creates the `statesource_schedule` table if needed and returns a store on it. Pass the opened
 * statesource database (`openSqlite(...)`) or any Kysely instance on SQLite.
 *
 * @example
 * ```ts
 * const store = await createSqliteScheduleStore(await openSqlite('app.db'))
 * ```
 */
export async function createSqliteScheduleStore(
  database: { readonly kysely: Kysely<any> } | Kysely<any>,
): Promise<SqliteScheduleStore> {
  const kysely =
    typeof (database as Kysely<any>).selectFrom === 'function'
      ? (database as Kysely<any>)
      : (database as { readonly kysely: Kysely<any> }).kysely
  try {
    await kysely.schema
      .createTable(SCHEDULE_TABLE)
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('aggregate_type', 'text', (c) => c.notNull())
      .addColumn('aggregate_id', 'text', (c) => c.notNull())
      .addColumn('command', 'text', (c) => c.notNull())
      .addColumn('due_at', 'integer', (c) => c.notNull())
      .addColumn('command_id', 'text', (c) => c.notNull())
      .addColumn('metadata', 'text', (c) => c.notNull())
      .addColumn('created_at', 'integer', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('settled_at', 'integer')
      .addColumn('error', 'text')
      .execute()
    await sql`create index if not exists statesource_schedule_pending_idx on ${sql.table(SCHEDULE_TABLE)} (status, due_at)`.execute(
      kysely,
    )
  } catch (error) {
    throw storeFailure(`Creating table "${SCHEDULE_TABLE}"`, error)
  }
  return new SqliteScheduleStore(kysely)
}

function toStored(row: ScheduleTable): StoredSchedule {
  return {
    id: row.id,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    command: JSON.parse(row.command),
    dueAt: Number(row.due_at),
    commandId: row.command_id,
    metadata: JSON.parse(row.metadata),
    createdAt: Number(row.created_at),
    status: row.status,
    ...(row.settled_at !== null ? { settledAt: Number(row.settled_at) } : {}),
    ...(row.error !== null ? { error: row.error } : {}),
  }
}

function storeFailure(what: string, error: unknown): StatesourceError {
  return new StatesourceError(
    'JOURNAL_FAILURE',
    `${what} in table "${SCHEDULE_TABLE}" failed: ${(error as Error)?.message ?? error}. Check that the database is open and writable.`,
    { cause: error },
  )
}
