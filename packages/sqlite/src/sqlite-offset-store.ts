import {
  checkText,
  isStatesourceError,
  JournalError,
  type OffsetStore,
  StatesourceError,
} from '@statesource/core'
import { get, run, type SqlDriver, type SqlProgram } from './sql-driver.ts'
import { TABLES } from './sqlite-schema.ts'

const O = TABLES.projectionOffset

const SQL = {
  load: `SELECT ordering FROM ${O} WHERE projection = ?`,
  save: `INSERT INTO ${O} (projection, ordering, updated_at) VALUES (?, ?, ?)
    ON CONFLICT (projection) DO UPDATE SET ordering = excluded.ordering, updated_at = excluded.updated_at`,
  reset: `DELETE FROM ${O} WHERE projection = ?`,
} as const

/** The offset programs, shared by the store and by transactions. */
export const offsetPrograms = {
  *load(projection: string): SqlProgram<number | undefined> {
    const row = yield* get<{ ordering: number }>(SQL.load, [projection])
    return row?.ordering
  },
  *save(projection: string, ordering: number, now: number): SqlProgram<void> {
    if (!Number.isSafeInteger(ordering) || ordering < 0) {
      throw new StatesourceError(
        'INVALID_INPUT',
        `The offset of projection "${projection}" must be an integer >= 0, got ${ordering}.`,
      )
    }
    yield* run(SQL.save, [projection, ordering, now])
  },
  *reset(projection: string): SqlProgram<void> {
    yield* run(SQL.reset, [projection])
  },
}

/**
 * Offsets inside a transaction opened by {@link StatesourceSqlite.transaction}: synchronous, and
 * committed or rolled back together with everything else the transaction wrote.
 *
 * @example
 * ```ts
 * sqlite.transaction((tx) => {
 *   tx.db.prepare('UPDATE balances SET amount = amount + ? WHERE id = ?').run(10, 'acc-1')
 *   tx.offsets.save('balances', 42)
 * })
 * ```
 */
export interface TransactionOffsets {
  load(projection: string): number | undefined
  save(projection: string, ordering: number): void
  reset(projection: string): void
}

/**
 * Offsets inside {@link StatesourceSqlite.kyselyTransaction}: the same operations as promises, on the
 * transaction's connection.
 *
 * @example
 * ```ts
 * await sqlite.kyselyTransaction(async (tx) => {
 *   await tx.offsets.save('balances', 42)
 * })
 * ```
 */
export interface AsyncTransactionOffsets {
  load(projection: string): Promise<number | undefined>
  save(projection: string, ordering: number): Promise<void>
  reset(projection: string): Promise<void>
}

/**
 * Reader offsets in `statesource_projection_offset`, on the same database as the journal.
 * Get it from {@link openSqlite} or {@link fromKysely} as `sqlite.offsetStore`.
 *
 * @example
 * ```ts
 * const sqlite = await openSqlite('app.db')
 * await sqlite.offsetStore.save('balances', 42)
 * const offset = await sqlite.offsetStore.load('balances') // 42
 * ```
 *
 * @remarks
 * `save` commits on its own, which gives at-least-once projections. For exactly-once, write the read
 * model and the offset in one transaction with `sqlite.transaction((tx) => { ...; tx.offsets.save(name, n) })`.
 */
export class SqliteOffsetStore implements OffsetStore {
  readonly #driver: SqlDriver
  readonly #now: () => number

  /** @internal Use {@link openSqlite} or {@link fromKysely}. */
  constructor(driver: SqlDriver, now: () => number = Date.now) {
    this.#driver = driver
    this.#now = now
  }

  async load(projection: string): Promise<number | undefined> {
    return this.#call(() => this.#driver.read(offsetPrograms.load(projection)), projection)
  }

  async save(projection: string, ordering: number): Promise<void> {
    await this.#call(
      () => this.#driver.write(offsetPrograms.save(projection, ordering, this.#now())),
      projection,
    )
  }

  async reset(projection: string): Promise<void> {
    await this.#call(() => this.#driver.write(offsetPrograms.reset(projection)), projection)
  }

  async #call<T>(operation: () => T | Promise<T>, projection: string): Promise<T> {
    try {
      checkText(projection, 'projection name')
      return await operation()
    } catch (error) {
      if (isStatesourceError(error)) throw error
      throw new JournalError(
        `Accessing the offset of projection "${projection}" failed: ${error instanceof Error ? error.message : String(error)}. Retry; the stored offset is unchanged.`,
        { cause: error },
      )
    }
  }
}
