import { randomUUID } from 'node:crypto'
import { resolve as resolvePath } from 'node:path'
import {
  checkText,
  isStatesourceError,
  type PollingReadJournalConfig,
  type ReadJournal,
  resolveInputLimits,
  StatesourceError,
} from '@statesource/core'
import Database from 'better-sqlite3'
import { CompiledQuery, Kysely, SqliteDialect } from 'kysely'
import { type AppendWriter, connectionWriter, kyselyWriter } from './append-writer.ts'
import { APPEND_SQL } from './journal-sql.ts'
import { BetterSqliteDriver, driveAsync, KyselyDriver, type SqlDriver } from './sql-driver.ts'
import { SQLITE_DEFAULTS } from './sqlite-defaults.ts'
import { SqliteJournal, type SqliteJournalConfig } from './sqlite-journal.ts'
import {
  type AsyncTransactionOffsets,
  offsetPrograms,
  SqliteOffsetStore,
  type TransactionOffsets,
} from './sqlite-offset-store.ts'
import { checkStatesourceSchema, migrateStatesource, type StatesourceTables } from './sqlite-schema.ts'
import { SqliteSnapshotStore } from './sqlite-snapshot-store.ts'
import { JournalWriterThread } from './writer-thread.ts'

/**
 * How SQLite syncs commits to disk (WAL mode):
 * - `'FULL'` (default): every commit is synced to disk before `append` resolves, so an acknowledged event
 *   survives a process crash, an operating-system crash and a power loss.
 * - `'NORMAL'` (opt-in): a commit survives a crash of the process, but the last commits acknowledged before
 *   a power loss or an operating-system crash may be lost (the database stays consistent: what survives is
 *   a prefix). Faster, since commits are not synced one by one.
 *
 * @example
 * ```ts
 * // Throwaway data (a test run, a cache you can rebuild): trade the last commits on power loss for speed.
 * const sqlite = await openSqlite('scratch.db', { synchronous: 'NORMAL' })
 * ```
 */
export type SqliteSynchronous = 'NORMAL' | 'FULL'

/**
 * Options of {@link openSqlite} and {@link fromKysely}.
 *
 * @example
 * ```ts
 * const sqlite = await openSqlite('app.db', { synchronous: 'FULL', busyTimeoutMs: 10_000, walAutocheckpoint: 10_000 })
 * ```
 */
export interface SqliteOptions extends SqliteJournalConfig {
  /**
   * Durability of each commit; see {@link SqliteSynchronous}. Default `'FULL'` with {@link openSqlite}
   * ({@link SQLITE_DEFAULTS}); {@link fromKysely} leaves the connection's setting alone unless given.
   */
  synchronous?: SqliteSynchronous
  /**
   * How long a write waits for another process's write lock before failing with `SQLITE_BUSY`
   * (`PRAGMA busy_timeout`). Default 5000 ms with {@link openSqlite} ({@link SQLITE_DEFAULTS}). The wait
   * blocks the event loop.
   */
  busyTimeoutMs?: number
  /**
   * WAL pages after which a commit checkpoints the WAL into the database file (`PRAGMA wal_autocheckpoint`).
   * SQLite's default is 1000 (about 4 MB); larger values speed up sustained writes, at the cost of a
   * larger WAL file and longer checkpoints.
   */
  walAutocheckpoint?: number
  /**
   * Where {@link openSqlite} runs journal appends:
   * - `'thread'` (default for a file): on a worker thread with its own connection to the file, so that
   *   inserting rows and waiting for the disk to sync overlap with the application's work on the event loop.
   *   Each group commit is still one transaction, checked against the streams' sequence numbers inside it,
   *   and `append` still resolves only after it committed.
   * - `'inline'`: on the application's connection, synchronously (the only choice for `':memory:'`).
   *
   * Ignored by {@link fromKysely}, whose appends always go through the Kysely instance.
   */
  writer?: 'thread' | 'inline'
  /**
   * Opens an existing statesource database for reading only (inspection tools, audits): the file is opened
   * read-only, never created, never migrated, and its journal mode is left as it is. A file without
   * statesource's tables (or with a schema this package does not know) fails with `SCHEMA_MISMATCH`.
   * Appends, deletes and snapshot saves then fail with `JOURNAL_FAILURE`. Default false.
   */
  readOnly?: boolean
}

/**
 * Options of {@link StatesourceSqlite.readJournal}: `pollIntervalMs` (default 250) and `pageSize` (default 500).
 *
 * @example
 * ```ts
 * const config: SqliteReadJournalConfig = { pollIntervalMs: 100, pageSize: 200 }
 * const readJournal = sqlite.readJournal(config)
 * ```
 */
export type SqliteReadJournalConfig = Omit<PollingReadJournalConfig, 'wakeUps'>

/**
 * What a synchronous {@link StatesourceSqlite.transaction} hands its function: the better-sqlite3
 * connection, inside `BEGIN IMMEDIATE`, and the projection offsets on that same transaction.
 *
 * @example
 * ```ts
 * sqlite.transaction((tx: SqliteTransaction) => {
 *   tx.db.prepare('DELETE FROM balances').run()
 *   tx.offsets.reset('balances')
 * })
 * ```
 */
export interface SqliteTransaction {
  /** The better-sqlite3 connection; everything run on it is part of the transaction. */
  readonly db: Database.Database
  readonly offsets: TransactionOffsets
}

/**
 * What {@link StatesourceSqlite.kyselyTransaction} hands its function: a Kysely instance bound to the
 * transaction's connection and the projection offsets on it.
 *
 * @example
 * ```ts
 * await sqlite.kyselyTransaction(async (tx: SqliteKyselyTransaction) => {
 *   const offset = await tx.offsets.load('balances')
 *   await tx.offsets.save('balances', (offset ?? 0) + 1)
 * })
 * ```
 */
export interface SqliteKyselyTransaction {
  readonly kysely: Kysely<StatesourceTables>
  readonly offsets: AsyncTransactionOffsets
}

/**
 * An opened statesource database: the journal, the read journal, the snapshot and offset stores on one
 * SQLite file, and the Kysely instance (and better-sqlite3 connection) behind them.
 *
 * @example
 * ```ts
 * const sqlite = await openSqlite('app.db')
 * const readJournal = sqlite.readJournal({ pollIntervalMs: 250 })
 * readJournal.eventsByTag('aggregate:account').subscribe((event) => console.log(event.ordering, event.type))
 * await sqlite.journal.append([
 *   { persistenceId: 'account|1', expectedSeqNr: 0, events: [{ type: 'opened', version: 1, payload: {}, tags: ['aggregate:account'], metadata: {} }] },
 * ])
 * await sqlite.close()
 * ```
 */
export class StatesourceSqlite {
  /** The Kysely instance: use it for queries and for your read-model tables (`kysely.withTables<T>()`). */
  readonly kysely: Kysely<StatesourceTables>
  /** The better-sqlite3 connection; `undefined` when opened with {@link fromKysely}. */
  readonly db: Database.Database | undefined
  readonly journal: SqliteJournal
  readonly snapshotStore: SqliteSnapshotStore
  readonly offsetStore: SqliteOffsetStore
  readonly #driver: SqlDriver
  readonly #owned: boolean
  readonly #now: () => number
  #closed: Promise<void> | undefined
  #transactionDepth = 0

  /** @internal Use {@link openSqlite} or {@link fromKysely}. */
  constructor(init: {
    kysely: Kysely<StatesourceTables>
    db: Database.Database | undefined
    driver: SqlDriver
    /** How the journal writes a transaction on `driver`'s connection. */
    appendWriter: AppendWriter
    owned: boolean
    options: SqliteOptions
    thread?: JournalWriterThread | undefined
  }) {
    this.kysely = init.kysely
    this.db = init.db
    this.#driver = init.driver
    this.#owned = init.owned
    this.#now = init.options.now ?? Date.now
    this.journal = new SqliteJournal(
      init.driver,
      { ...init.options, writerId: init.options.writerId ?? randomUUID() },
      { direct: init.appendWriter, thread: init.thread },
    )
    this.snapshotStore = new SqliteSnapshotStore(init.driver)
    this.offsetStore = new SqliteOffsetStore(init.driver, this.#now)
  }

  /**
   * A read journal over this database: SQL pages, woken after every commit in this process (events show up
   * within milliseconds) and polling every `pollIntervalMs` (default 250) for writes of other processes.
   *
   * @example
   * ```ts
   * const events = sqlite.readJournal({ pollIntervalMs: 100, pageSize: 500 }).allEvents(0)
   * ```
   *
   * @remarks better-sqlite3 reads block the event loop; keep `pageSize` at 500 rows or fewer.
   */
  readJournal(config: SqliteReadJournalConfig = {}): ReadJournal {
    return this.journal.readJournal(config)
  }

  /**
   * Runs `fn` synchronously in one `BEGIN IMMEDIATE` transaction on the better-sqlite3 connection: what it
   * writes through `tx.db` and `tx.offsets` commits together or not at all. This is how a projection stores
   * its read model and its offset atomically (exactly-once). Throwing rolls back and rethrows.
   *
   * @example
   * ```ts
   * sqlite.transaction((tx) => {
   *   tx.db.prepare('INSERT INTO balances (id, amount) VALUES (?, ?)').run('acc-1', 10)
   *   tx.offsets.save('balances', event.ordering)
   * })
   * ```
   *
   * @remarks
   * `fn` must not be async: nothing may wait inside a write transaction, since SQLite has one writer.
   * Nested calls become savepoints. Only available with {@link openSqlite}; with {@link fromKysely}
   * use {@link StatesourceSqlite.kyselyTransaction}.
   */
  transaction<T>(fn: (tx: SqliteTransaction) => T): T {
    const db = this.db
    if (!db || !(this.#driver instanceof BetterSqliteDriver)) {
      throw new StatesourceError(
        'NOT_CONFIGURED',
        'transaction(fn) needs the better-sqlite3 connection, which a database opened with fromKysely() does not expose. Use kyselyTransaction(fn) instead.',
      )
    }
    this.#assertOpen()
    if (db.inTransaction && this.#transactionDepth === 0) {
      throw new StatesourceError(
        'INVALID_INPUT',
        'transaction(fn) was called while another transaction (for example a kyselyTransaction) is open on this connection. Run it after that transaction ends.',
      )
    }
    const driver = this.#driver
    const offsets: TransactionOffsets = {
      load: (projection) => driver.read(offsetPrograms.load(projection)),
      save: (projection, ordering) => driver.read(offsetPrograms.save(projection, ordering, this.#now())),
      reset: (projection) => driver.read(offsetPrograms.reset(projection)),
    }
    const body = db.transaction(() => {
      this.#transactionDepth++
      let result: T
      try {
        result = fn({ db, offsets })
      } finally {
        this.#transactionDepth--
      }
      if (typeof (result as { then?: unknown } | null)?.then === 'function') {
        throw new StatesourceError(
          'INVALID_INPUT',
          'The function given to transaction() returned a promise; it must be synchronous. Use kyselyTransaction(fn) for async work.',
        )
      }
      return result
    })
    return body.immediate()
  }

  /**
   * Runs `fn` in one `BEGIN IMMEDIATE` transaction through Kysely: what it writes through `tx.kysely` and
   * `tx.offsets` commits together or not at all. Works with {@link openSqlite} and {@link fromKysely}.
   *
   * @example
   * ```ts
   * await sqlite.kyselyTransaction(async (tx) => {
   *   await tx.kysely.withTables<{ balances: { id: string; amount: number } }>()
   *     .insertInto('balances').values({ id: 'acc-1', amount: 10 }).execute()
   *   await tx.offsets.save('balances', 42)
   * })
   * ```
   *
   * @remarks
   * Await only database work inside `fn`: the connection is held until it returns, and journal writes of
   * this process wait for it. Prefer {@link StatesourceSqlite.transaction} when you opened the file.
   */
  async kyselyTransaction<T>(fn: (tx: SqliteKyselyTransaction) => Promise<T>): Promise<T> {
    this.#assertOpen()
    return this.kysely.connection().execute(async (connection) => {
      await connection.executeQuery(CompiledQuery.raw('BEGIN IMMEDIATE'))
      try {
        const offsets: AsyncTransactionOffsets = {
          load: (projection) => driveAsync(connection, offsetPrograms.load(projection)),
          save: (projection, ordering) =>
            driveAsync(connection, offsetPrograms.save(projection, ordering, this.#now())),
          reset: (projection) => driveAsync(connection, offsetPrograms.reset(projection)),
        }
        const result = await fn({ kysely: connection, offsets })
        await connection.executeQuery(CompiledQuery.raw('COMMIT'))
        return result
      } catch (error) {
        await connection.executeQuery(CompiledQuery.raw('ROLLBACK')).catch(() => undefined)
        throw error
      }
    })
  }

  /**
   * Commits queued appends, stops the journal and, when {@link openSqlite} opened the file, closes it.
   * A Kysely instance given to {@link fromKysely} stays open: it belongs to the caller.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.journal.close()
      if (this.#owned) await this.kysely.destroy()
    })()
    return this.#closed
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new StatesourceError('JOURNAL_FAILURE', 'The statesource database is closed. Open it again.')
    }
  }
}

/**
 * Opens (or creates) a statesource database in an SQLite file: WAL mode, `synchronous` FULL (or NORMAL),
 * a busy timeout, and the statesource tables brought up to date by the library's own migrations
 * (tracked in `statesource_migration`, apart from the application's).
 *
 * @example
 * ```ts
 * const sqlite = await openSqlite('data/app.db')
 * const outcomes = await sqlite.journal.append([
 *   { persistenceId: 'account|1', expectedSeqNr: 0, events: [{ type: 'opened', version: 1, payload: {}, tags: [], metadata: {} }] },
 * ])
 * await sqlite.close()
 * ```
 *
 * @remarks
 * Pass `':memory:'` for a private in-memory database (tests). Any SQLite file will do: the statesource tables
 * (all named `statesource_*`) are added beside the application's own, which are left alone. Refused with
 * `SCHEMA_MISMATCH`: a file that is not SQLite, a statesource schema newer than this package, and
 * `statesource_*` tables this package did not create.
 */
export async function openSqlite(path: string, options: SqliteOptions = {}): Promise<StatesourceSqlite> {
  const synchronous = validSynchronous(options.synchronous ?? SQLITE_DEFAULTS.synchronous)
  const busyTimeoutMs = validCount(options.busyTimeoutMs ?? SQLITE_DEFAULTS.busyTimeoutMs, 'busyTimeoutMs')
  resolveInputLimits(options.limits, 'openSqlite(path, { limits })') // refused before anything is opened
  const where = `"${path}"`
  if (options.writerId !== undefined) checkText(options.writerId, 'writerId')
  if (options.readOnly) return openReadOnly(path, where, busyTimeoutMs, options)
  let db: Database.Database
  try {
    db = new Database(path)
  } catch (error) {
    throw openFailure(error, where)
  }
  try {
    // busy_timeout first, so that switching to WAL waits for another process instead of failing.
    db.pragma(`busy_timeout = ${busyTimeoutMs}`)
    db.pragma('journal_mode = WAL')
    db.pragma(`synchronous = ${synchronous}`)
    if (options.walAutocheckpoint !== undefined) {
      db.pragma(`wal_autocheckpoint = ${validCount(options.walAutocheckpoint, 'walAutocheckpoint')}`)
    }
    const kysely = new Kysely<StatesourceTables>({ dialect: new SqliteDialect({ database: db }) })
    await migrateStatesource(kysely, where)
    const thread = writerThread(path, db, options)
    const driver = new BetterSqliteDriver(db)
    return new StatesourceSqlite({
      kysely,
      db,
      driver,
      // Cached statements called directly: the cheapest way in.
      appendWriter: connectionWriter(driver),
      owned: true,
      options,
      thread,
    })
  } catch (error) {
    db.close()
    throw openFailure(error, where)
  }
}

/** `openSqlite(path, { readOnly: true })`: no file created, no pragma stored in it, no migration. */
async function openReadOnly(
  path: string,
  where: string,
  busyTimeoutMs: number,
  options: SqliteOptions,
): Promise<StatesourceSqlite> {
  let db: Database.Database
  try {
    db = new Database(path, { readonly: true, fileMustExist: true })
  } catch (error) {
    throw openFailure(error, where, true)
  }
  try {
    db.pragma(`busy_timeout = ${busyTimeoutMs}`)
    const kysely = new Kysely<StatesourceTables>({ dialect: new SqliteDialect({ database: db }) })
    await checkStatesourceSchema(kysely, where)
    const driver = new BetterSqliteDriver(db)
    return new StatesourceSqlite({
      kysely,
      db,
      driver,
      // Appends fail on a read-only connection; the writer is there because every journal has one.
      appendWriter: connectionWriter(driver),
      owned: true,
      options: { ...options, writer: 'inline' },
    })
  } catch (error) {
    db.close()
    throw openFailure(error, where, true)
  }
}

/**
 * Uses an existing Kysely instance on an SQLite dialect: every statement, writes included, goes through
 * it. Pragmas are set only for the options given (the instance's owner configured the connection).
 *
 * @example
 * ```ts
 * const kysely = new Kysely<MyTables>({ dialect: new SqliteDialect({ database: new Database('app.db') }) })
 * const sqlite = await fromKysely(kysely, { busyTimeoutMs: 5000 })
 * ```
 *
 * @remarks
 * Slower than {@link openSqlite} (each statement pays Kysely's compile and promise hops, so appends use
 * chunked multi-row inserts), and `transaction(fn)` is not available: use `kyselyTransaction(fn)`.
 * `close()` leaves the Kysely instance open.
 */
export async function fromKysely(
  kysely: Kysely<any>,
  options: SqliteOptions = {},
): Promise<StatesourceSqlite> {
  const where = "the Kysely instance's database"
  try {
    const pragmas: string[] = []
    if (options.busyTimeoutMs !== undefined) {
      pragmas.push(`busy_timeout = ${validCount(options.busyTimeoutMs, 'busyTimeoutMs')}`)
    }
    if (options.synchronous !== undefined)
      pragmas.push(`synchronous = ${validSynchronous(options.synchronous)}`)
    if (options.walAutocheckpoint !== undefined) {
      pragmas.push(`wal_autocheckpoint = ${validCount(options.walAutocheckpoint, 'walAutocheckpoint')}`)
    }
    for (const pragma of pragmas) await kysely.executeQuery(CompiledQuery.raw(`PRAGMA ${pragma}`))
    await migrateStatesource(kysely, where)
  } catch (error) {
    throw openFailure(error, where)
  }
  const typed = kysely as Kysely<StatesourceTables>
  const driver = new KyselyDriver(typed)
  return new StatesourceSqlite({
    kysely: typed,
    db: undefined,
    driver,
    // Every statement costs a compile and a promise here: a program with multi-row inserts.
    appendWriter: kyselyWriter(driver),
    owned: false,
    options,
  })
}

/** The journal's writer thread for a file database, unless `writer: 'inline'` or the database is in memory. */
function writerThread(
  path: string,
  db: Database.Database,
  options: SqliteOptions,
): JournalWriterThread | undefined {
  const writer = options.writer ?? SQLITE_DEFAULTS.writer
  if (writer !== 'thread' && writer !== 'inline') {
    throw new StatesourceError(
      'INVALID_INPUT',
      `writer must be 'thread' or 'inline', got ${JSON.stringify(writer)}.`,
    )
  }
  if (writer === 'inline' || db.memory) return undefined
  // The thread's connection gets the settings that are per connection; WAL mode is stored in the file.
  const pragmas = [
    `busy_timeout = ${db.pragma('busy_timeout', { simple: true })}`,
    `synchronous = ${db.pragma('synchronous', { simple: true })}`,
    `wal_autocheckpoint = ${db.pragma('wal_autocheckpoint', { simple: true })}`,
  ]
  return new JournalWriterThread({
    file: resolvePath(path),
    pragmas,
    sql: APPEND_SQL,
    maxBatchEvents: Math.max(1, options.maxBatchEvents ?? SQLITE_DEFAULTS.maxBatchEvents),
  })
}

function validSynchronous(value: string): SqliteSynchronous {
  if (value !== 'NORMAL' && value !== 'FULL') {
    throw new StatesourceError(
      'INVALID_INPUT',
      `synchronous must be 'NORMAL' or 'FULL', got ${JSON.stringify(value)}.`,
    )
  }
  return value
}

function validCount(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new StatesourceError('INVALID_INPUT', `${name} must be an integer >= 0, got ${value}.`)
  }
  return value
}

function openFailure(error: unknown, where: string, readOnly = false): Error {
  if (isStatesourceError(error)) return error
  const code = (error as { code?: unknown } | null)?.code
  const message = error instanceof Error ? error.message : String(error)
  if (code === 'SQLITE_NOTADB') {
    return new StatesourceError(
      'SCHEMA_MISMATCH',
      readOnly
        ? `${capitalize(where)} is not an SQLite database (SQLite says: ${message}). Pass the statesource database your application writes.`
        : `${capitalize(where)} is not an SQLite database (SQLite says: ${message}). Open a statesource database, or a path that does not exist yet to create one.`,
      { cause: error },
    )
  }
  return new StatesourceError(
    'JOURNAL_FAILURE',
    readOnly
      ? `Opening ${where} read-only failed: ${message}. Check that the file exists and is readable.`
      : `Opening ${where} failed: ${message}. Check that the path is writable and that its directory exists.`,
    { cause: error },
  )
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
