import type {
  DomainEvent,
  EventEnvelope,
  Reader,
  ReaderErrorPolicy,
  ReaderFilter,
  TransactionalOffsetStore,
} from '@statesource/core'
import { defineReader, StatesourceError } from '@statesource/core'
import type Database from 'better-sqlite3'
import type { SqliteTransaction, StatesourceSqlite } from './open-sqlite.ts'

/**
 * Options of {@link createSqliteProjection}: a reader whose read model lives in tables of the statesource
 * SQLite database, written in the same transaction as its offset.
 *
 * @example
 * ```ts
 * const config: SqliteProjectionConfig<number> = {
 *   sqlite,
 *   name: 'balances',
 *   setup: (db) => db.exec('CREATE TABLE IF NOT EXISTS balances (id TEXT PRIMARY KEY, amount INTEGER NOT NULL)'),
 *   initialState: 0,
 *   apply: (n, event, envelope, db) => {
 *     db.prepare('INSERT INTO balances (id, amount) VALUES (?, 0) ON CONFLICT DO NOTHING').run(envelope.persistenceId)
 *     return n + 1
 *   },
 * }
 * ```
 */
export interface SqliteProjectionConfig<TState, TEvent extends DomainEvent = DomainEvent> {
  /** A database opened with `openSqlite` (the better-sqlite3 connection is needed for synchronous transactions). */
  readonly sqlite: StatesourceSqlite
  readonly name: string
  readonly filter?: ReaderFilter
  readonly errorPolicy?: ReaderErrorPolicy
  readonly retry?: Reader<TState, TEvent>['retry']
  /** Creates the read-model tables; runs once, synchronously, when the projection is created. Make it idempotent. */
  readonly setup?: (db: Database.Database) => void
  readonly initialState: TState
  /** Writes the read model through `db` (inside the page's transaction) and returns the next in-memory state. */
  apply(state: TState, event: TEvent, envelope: EventEnvelope, db: Database.Database): TState
  /** The in-memory state from the tables, when resuming from a stored offset. Default: `initialState`. */
  readonly loadState?: (db: Database.Database) => TState
  /** Clears the read-model tables for `rebuildProjection`; runs in the transaction that resets the offset. */
  readonly reset?: (db: Database.Database) => void
}

/**
 * Creates an exactly-once reader over an SQLite read model: each page of events is applied and the offset saved
 * in one transaction (each event in its own savepoint), so a restart resumes exactly after the last committed
 * event and never applies one twice.
 *
 * @example
 * ```ts
 * const balances = builder.withReader(
 *   createSqliteProjection({
 *     sqlite,
 *     name: 'balances',
 *     filter: ReaderFilter.tag('money'),
 *     setup: (db) => db.exec('CREATE TABLE IF NOT EXISTS balances (id TEXT PRIMARY KEY, amount INTEGER NOT NULL)'),
 *     initialState: undefined,
 *     apply: (state, event, envelope, db) => {
 *       db.prepare('INSERT INTO balances VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET amount = amount + excluded.amount')
 *         .run(envelope.persistenceId, event.type === 'deposited' ? event.amount : -Number(event.amount))
 *       return state
 *     },
 *   }),
 * )
 * ```
 *
 * @remarks `apply`, `loadState` and `reset` must be synchronous: nothing may wait inside an SQLite write
 * transaction. Keep the tables in the same file as the journal (the `sqlite` given here).
 */
export function createSqliteProjection<TState, TEvent extends DomainEvent = DomainEvent>(
  config: SqliteProjectionConfig<TState, TEvent>,
): Reader<TState, TEvent> {
  const db = config.sqlite.db
  if (!db) {
    throw new StatesourceError(
      'NOT_CONFIGURED',
      `SQLite projection "${config.name}" needs the better-sqlite3 connection: open the database with openSqlite(path), not fromKysely().`,
    )
  }
  config.setup?.(db)
  const transactional = createSqliteTransactionalOffsetStore(config.sqlite)
  const { loadState, reset } = config
  return defineReader<TState, TEvent>({
    name: config.name,
    initialState: config.initialState,
    ...(config.filter ? { filter: config.filter } : {}),
    ...(config.errorPolicy ? { errorPolicy: config.errorPolicy } : {}),
    ...(config.retry !== undefined ? { retry: config.retry } : {}),
    transactional,
    apply: (state, event, envelope) => config.apply(state, event, envelope, db),
    ...(loadState ? { loadState: () => loadState(db) } : {}),
    ...(reset ? { reset: () => reset(db) } : {}),
  })
}

/**
 * A {@link TransactionalOffsetStore} on the statesource SQLite database: offsets in
 * `statesource_projection_offset`, written inside the reader's own transactions.
 *
 * @example
 * ```ts
 * const reader = defineReader({ name: 'rows', initialState: 0, apply: (n: number) => n + 1, transactional: createSqliteTransactionalOffsetStore(sqlite) })
 * ```
 */
export function createSqliteTransactionalOffsetStore(sqlite: StatesourceSqlite): TransactionalOffsetStore {
  let current: SqliteTransaction | undefined
  const inTransaction = <T>(fn: (tx: SqliteTransaction) => T): T =>
    current ? fn(current) : sqlite.transaction(fn)
  return {
    transaction: (fn) =>
      sqlite.transaction((tx) => {
        const outer = current
        current = tx
        try {
          return fn()
        } finally {
          current = outer
        }
      }),
    loadOffset: (projection) => inTransaction((tx) => tx.offsets.load(projection)),
    saveOffset: (projection, ordering) => inTransaction((tx) => tx.offsets.save(projection, ordering)),
    resetOffset: (projection) => inTransaction((tx) => tx.offsets.reset(projection)),
  }
}

/** @deprecated Use {@link createSqliteTransactionalOffsetStore}: factories are named `createX`. */
export function sqliteOffsets(sqlite: StatesourceSqlite): TransactionalOffsetStore {
  return createSqliteTransactionalOffsetStore(sqlite)
}
