import type { DeadLetter, DeadLetterStore, EventEnvelope } from '@statesource/core'
import { JournalError, toJson } from '@statesource/core'
import { messageOf, type Query } from './journal-sql.ts'
import { qualified, TABLES } from './postgres-schema.ts'

interface DeadLetterRow {
  id: string
  projection: string
  envelope: EventEnvelope
  error: string
  attempts: number
  parked_at: string
}

/**
 * A {@link DeadLetterStore} in `statesource_dead_letter`: events readers parked after their retries
 * failed survive restarts and are visible to every process. Get it from {@link openPostgres} as
 * `pg.deadLetterStore` and give it to the builder.
 *
 * @example
 * ```ts
 * const builder = CqrsPattern.builder({ journal: pg.journal }).deadLetterStore(pg.deadLetterStore)
 * const parked = await pg.deadLetterStore.list('balances')
 * ```
 */
export class PostgresDeadLetterStore implements DeadLetterStore {
  readonly #query: Query
  readonly #table: string

  /** @internal Use {@link openPostgres}. */
  constructor(query: Query, schema: string) {
    this.#query = query
    this.#table = qualified(schema, TABLES.deadLetter)
  }

  async park(entry: Omit<DeadLetter, 'id'>): Promise<DeadLetter> {
    const envelope = toJson(entry.envelope, `The envelope parked for projection "${entry.projection}"`)
    const rows = await this.#run(
      `INSERT INTO ${this.#table} (projection, envelope, error, attempts, parked_at)
       VALUES ($1, $2::json, $3, $4, $5) RETURNING id`,
      [entry.projection, envelope, entry.error, entry.attempts, entry.parkedAt],
      `Parking an event of projection "${entry.projection}"`,
    )
    return Object.freeze({ ...entry, id: Number((rows[0] as { id: string }).id) })
  }

  async list(projection?: string): Promise<DeadLetter[]> {
    const rows = await this.#run(
      projection === undefined
        ? `SELECT * FROM ${this.#table} ORDER BY id`
        : `SELECT * FROM ${this.#table} WHERE projection = $1 ORDER BY id`,
      projection === undefined ? [] : [projection],
      'Listing dead letters',
    )
    return rows.map(toDeadLetter)
  }

  async get(id: number): Promise<DeadLetter | undefined> {
    const rows = await this.#run(
      `SELECT * FROM ${this.#table} WHERE id = $1`,
      [id],
      `Reading dead letter ${id}`,
    )
    return rows[0] ? toDeadLetter(rows[0]) : undefined
  }

  async delete(id: number): Promise<boolean> {
    const rows = await this.#run(
      `DELETE FROM ${this.#table} WHERE id = $1 RETURNING id`,
      [id],
      `Deleting dead letter ${id}`,
    )
    return rows.length > 0
  }

  async #run(text: string, params: unknown[], what: string): Promise<DeadLetterRow[]> {
    try {
      return await this.#query<DeadLetterRow>(text, params)
    } catch (error) {
      throw new JournalError(`${what} failed: ${messageOf(error)}. Retry; nothing was changed.`, {
        cause: error,
      })
    }
  }
}

function toDeadLetter(row: DeadLetterRow): DeadLetter {
  return Object.freeze({
    id: Number(row.id),
    projection: row.projection,
    envelope: row.envelope,
    error: row.error,
    attempts: row.attempts,
    parkedAt: Number(row.parked_at),
  })
}
