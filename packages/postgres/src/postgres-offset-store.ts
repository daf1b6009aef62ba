import { isStatesourceError, JournalError, type OffsetStore, StatesourceError } from '@statesource/core'
import { messageOf, type Query } from './journal-sql.ts'
import { qualified, TABLES } from './postgres-schema.ts'

/**
 * Offsets on one connection or transaction: the store's operations as promises. What
 * {@link StatesourcePostgres.transaction} hands its function as `tx.offsets`.
 *
 * @example
 * ```ts
 * await pg.transaction(async (tx) => {
 *   const offset = await tx.offsets.load('balances')
 *   await tx.offsets.save('balances', (offset ?? 0) + 1)
 * })
 * ```
 */
export interface TransactionOffsets {
  load(projection: string): Promise<number | undefined>
  /** Stores `ordering` as the projection's offset. */
  save(projection: string, ordering: number): Promise<void>
  /** Forgets the offset (used by rebuilds). */
  reset(projection: string): Promise<void>
  /**
   * Stores `ordering` as the offset if it is higher than the stored one (or none is stored), locking the
   * offset's row until the transaction ends. Resolves `false`, changing nothing, when the stored offset
   * already covers `ordering`.
   */
  advance(projection: string, ordering: number): Promise<boolean>
}

/** The offset statements for one schema, run through any {@link Query}. */
export function offsetOperations(query: Query, schema: string, now: () => number): TransactionOffsets {
  const O = qualified(schema, TABLES.projectionOffset)
  return {
    async load(projection) {
      const rows = await query<{ ordering: string }>(`SELECT ordering FROM ${O} WHERE projection = $1`, [
        projection,
      ])
      return rows[0] === undefined ? undefined : Number(rows[0].ordering)
    },
    async advance(projection, ordering) {
      validOffset(projection, ordering)
      const rows = await query(
        `INSERT INTO ${O} (projection, ordering, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (projection) DO UPDATE SET ordering = excluded.ordering, updated_at = excluded.updated_at
         WHERE ${O}.ordering < excluded.ordering RETURNING 1`,
        [projection, ordering, now()],
      )
      return rows.length > 0
    },
    async save(projection, ordering) {
      validOffset(projection, ordering)
      await query(
        `INSERT INTO ${O} (projection, ordering, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (projection) DO UPDATE SET ordering = excluded.ordering, updated_at = excluded.updated_at`,
        [projection, ordering, now()],
      )
    },
    async reset(projection) {
      await query(`DELETE FROM ${O} WHERE projection = $1`, [projection])
    },
  }
}

function validOffset(projection: string, ordering: number): void {
  if (!Number.isSafeInteger(ordering) || ordering < 0) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `The offset of projection "${projection}" must be an integer >= 0, got ${ordering}.`,
    )
  }
}

/**
 * Reader offsets in `statesource_projection_offset`, on the same database as the journal.
 * Get it from {@link openPostgres} as `pg.offsetStore`.
 *
 * @example
 * ```ts
 * const pg = await openPostgres('postgres://localhost/app')
 * await pg.offsetStore.save('balances', 42)
 * const offset = await pg.offsetStore.load('balances') // 42
 * ```
 *
 * @remarks
 * `save` commits on its own, which gives at-least-once projections, and never moves an offset backwards
 * (`reset` does). For exactly-once, write the read
 * model and the offset in one transaction: {@link createPostgresProjection} does, or
 * `pg.transaction(async (tx) => { ...; await tx.offsets.save(name, n) })`.
 */
export class PostgresOffsetStore implements OffsetStore {
  readonly #operations: TransactionOffsets

  /** @internal Use {@link openPostgres}. */
  constructor(query: Query, schema: string, now: () => number = Date.now) {
    this.#operations = offsetOperations(query, schema, now)
  }

  load(projection: string): Promise<number | undefined> {
    return this.#call(() => this.#operations.load(projection), projection)
  }

  /**
   * Stores `ordering` unless the stored offset is already at or past it: an offset only moves back through
   * `reset`. So a checkpoint saved late (by a process whose reader has meanwhile moved to another process of
   * a cluster) never rewinds the offset the new runner, or an exactly-once projection, has advanced.
   */
  async save(projection: string, ordering: number): Promise<void> {
    await this.#call(() => this.#operations.advance(projection, ordering), projection)
  }

  reset(projection: string): Promise<void> {
    return this.#call(() => this.#operations.reset(projection), projection)
  }

  async #call<T>(operation: () => Promise<T>, projection: string): Promise<T> {
    try {
      return await operation()
    } catch (error) {
      if (isStatesourceError(error)) throw error
      throw new JournalError(
        `Accessing the offset of projection "${projection}" failed: ${messageOf(error)}. Retry; the stored offset is unchanged.`,
        { cause: error },
      )
    }
  }
}
