import {
  duplicateScheduleError,
  type ScheduleSettlement,
  type ScheduleStore,
  StatesourceError,
  type StoredSchedule,
} from '@statesource/core'
import { messageOf, type Query } from './journal-sql.ts'
import { qualified, type ScheduleTable, TABLES } from './postgres-schema.ts'

/**
 * A {@link ScheduleStore} in `statesource_schedule` (created by the migrations), so scheduled commands
 * survive restarts and one store serves every process. Get it from {@link openPostgres} as
 * `pg.scheduleStore`.
 *
 * @example
 * ```ts
 * const pg = await openPostgres('postgres://localhost/app')
 * const scheduler = createDurableScheduler({ store: pg.scheduleStore, handles })
 * ```
 *
 * @remarks `settle` is a compare-and-set on the status: of a fire and a cancel racing, even from two
 * processes, exactly one wins.
 */
export class PostgresScheduleStore implements ScheduleStore {
  readonly #query: Query
  readonly #table: string

  /** @internal Use {@link openPostgres}. */
  constructor(query: Query, schema: string) {
    this.#query = query
    this.#table = qualified(schema, TABLES.schedule)
  }

  async add(schedule: StoredSchedule): Promise<void> {
    const rows = await this.#run(
      `INSERT INTO ${this.#table} (id, aggregate_type, aggregate_id, command, due_at, command_id, metadata,
         created_at, status, settled_at, error)
       VALUES ($1, $2, $3, $4::json, $5, $6, $7::json, $8, $9, $10, $11)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [
        schedule.id,
        schedule.aggregateType,
        schedule.aggregateId,
        JSON.stringify(schedule.command),
        schedule.dueAt,
        schedule.commandId,
        JSON.stringify(schedule.metadata ?? {}),
        schedule.createdAt,
        schedule.status,
        schedule.settledAt ?? null,
        schedule.error ?? null,
      ],
      `Storing schedule "${schedule.id}"`,
    )
    if (rows.length === 0) throw duplicateScheduleError(schedule.id)
  }

  async pending(): Promise<StoredSchedule[]> {
    const rows = await this.#run(
      `SELECT * FROM ${this.#table} WHERE status = 'pending' ORDER BY due_at, id`,
      [],
      'Reading pending schedules',
    )
    return rows.map(toStored)
  }

  async get(id: string): Promise<StoredSchedule | undefined> {
    const rows = await this.#run(
      `SELECT * FROM ${this.#table} WHERE id = $1`,
      [id],
      `Reading schedule "${id}"`,
    )
    return rows[0] ? toStored(rows[0]) : undefined
  }

  async settle(id: string, settlement: ScheduleSettlement): Promise<boolean> {
    const rows = await this.#run(
      `UPDATE ${this.#table} SET status = $2, settled_at = $3, error = $4
       WHERE id = $1 AND status = 'pending' RETURNING id`,
      [id, settlement.status, settlement.at, settlement.error ?? null],
      `Settling schedule "${id}"`,
    )
    return rows.length > 0
  }

  async purge(before: number): Promise<number> {
    const rows = await this.#run(
      `DELETE FROM ${this.#table} WHERE status <> 'pending' AND settled_at < $1 RETURNING id`,
      [before],
      'Purging settled schedules',
    )
    return rows.length
  }

  async #run(text: string, params: unknown[], what: string): Promise<ScheduleTable[]> {
    try {
      return await this.#query<ScheduleTable>(text, params)
    } catch (error) {
      throw new StatesourceError(
        'JOURNAL_FAILURE',
        `${what} in table "${TABLES.schedule}" failed: ${messageOf(error)}. Check that the database is reachable.`,
        { cause: error },
      )
    }
  }
}

function toStored(row: ScheduleTable): StoredSchedule {
  return {
    id: row.id,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    command: row.command as StoredSchedule['command'],
    dueAt: Number(row.due_at),
    commandId: row.command_id,
    metadata: row.metadata as StoredSchedule['metadata'],
    createdAt: Number(row.created_at),
    status: row.status,
    ...(row.settled_at !== null ? { settledAt: Number(row.settled_at) } : {}),
    ...(row.error !== null ? { error: row.error } : {}),
  }
}
