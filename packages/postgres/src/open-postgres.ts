import { createHash, randomUUID } from 'node:crypto'
import {
  createPollingReadJournal,
  isStatesourceError,
  type Logger,
  type PollingReadJournalConfig,
  type ReadJournal,
  StatesourceError,
} from '@statesource/core'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { merge } from 'rxjs'
import { journalSql, kyselyQuery, messageOf } from './journal-sql.ts'
import { PostgresDeadLetterStore } from './postgres-dead-letter-store.ts'
import { PostgresJournal, type PostgresJournalConfig } from './postgres-journal.ts'
import { PostgresListener, type PostgresListenerStats } from './postgres-listener.ts'
import { offsetOperations, PostgresOffsetStore, type TransactionOffsets } from './postgres-offset-store.ts'
import { PostgresScheduleStore } from './postgres-schedule-store.ts'
import { migrateStatesource, type StatesourceTables } from './postgres-schema.ts'
import { PostgresSnapshotStore } from './postgres-snapshot-store.ts'

/**
 * Options of {@link openPostgres}.
 *
 * @example
 * ```ts
 * const pg = await openPostgres(process.env.DATABASE_URL!, {
 *   schema: 'statesource',
 *   poolSize: 20,
 *   statementTimeoutMs: 10_000,
 *   applicationName: 'orders-api',
 * })
 * ```
 */
export interface PostgresOptions extends PostgresJournalConfig {
  /**
   * The PostgreSQL schema that holds the statesource tables, the append function and the library's own
   * migration table (`statesource_migration`); created if missing. Default `'public'`.
   */
  schema?: string
  /** Connections of the pool {@link openPostgres} creates from a URL. Default 10. Ignored for a given pool. */
  poolSize?: number
  /**
   * `statement_timeout` of the pool's connections (a URL only): a statement running longer is cancelled
   * and its append rejects (nothing written). Default: the server's setting (usually none).
   */
  statementTimeoutMs?: number
  /** `application_name` of the connections, shown in `pg_stat_activity`. Default `'statesource'`. */
  applicationName?: string
  /**
   * Where the dedicated `LISTEN` connection connects, which wakes live queries when any process commits:
   * `true` (default) derives it from the URL or pool; a URL or `pg.ClientConfig` sets it; `false` turns
   * it off (live queries then see other processes' events by polling only). With a Kysely instance there
   * is nothing to derive it from: pass a URL or config to have it.
   */
  listen?: boolean | string | pg.ClientConfig
  /**
   * How long the `LISTEN` connection waits before reconnecting after it was lost; doubles after each
   * failed attempt, up to 2 s (or this value if larger). Default 50 ms.
   */
  listenReconnectMs?: number
  /** Where the listener reports a lost connection. Default: none. */
  logger?: Logger
}

/**
 * Options of {@link StatesourcePostgres.readJournal}: `pollIntervalMs` (default 250) and `pageSize`
 * (default 500).
 *
 * @example
 * ```ts
 * const readJournal = pg.readJournal({ pollIntervalMs: 1000, pageSize: 1000 })
 * ```
 */
export type PostgresReadJournalConfig = Omit<PollingReadJournalConfig, 'wakeUps'>

/**
 * What {@link StatesourcePostgres.transaction} hands its function: a Kysely transaction and the
 * projection offsets on it.
 *
 * @example
 * ```ts
 * await pg.transaction(async (tx: PostgresTransaction) => {
 *   await tx.kysely.withTables<{ balances: { id: string; amount: number } }>()
 *     .insertInto('balances').values({ id: 'acc-1', amount: 10 }).execute()
 *   await tx.offsets.save('balances', 42)
 * })
 * ```
 */
export interface PostgresTransaction {
  /** Everything run through it is part of the transaction. Qualify tables with `withSchema(pg.schema)` if needed. */
  readonly kysely: Kysely<StatesourceTables>
  readonly offsets: TransactionOffsets
}

/**
 * An opened statesource database on PostgreSQL: the journal, the read journal, the snapshot, offset,
 * schedule and dead-letter stores, and the Kysely instance (and pool) behind them.
 *
 * @example
 * ```ts
 * const pg = await openPostgres('postgres://localhost/app')
 * pg.readJournal().eventsByTag('aggregate:account').subscribe((event) => console.log(event.ordering, event.type))
 * await pg.journal.append([
 *   { persistenceId: 'account|1', expectedSeqNr: 0, events: [{ type: 'opened', version: 1, payload: {}, tags: ['aggregate:account'], metadata: {} }] },
 * ])
 * await pg.close()
 * ```
 */
export class StatesourcePostgres {
  /** The Kysely instance: use it for queries and for your read-model tables. */
  readonly kysely: Kysely<StatesourceTables>
  /** The pool; `undefined` when opened with a Kysely instance. */
  readonly pool: pg.Pool | undefined
  /** The schema that holds the statesource tables. */
  readonly schema: string
  readonly journal: PostgresJournal
  readonly snapshotStore: PostgresSnapshotStore
  readonly offsetStore: PostgresOffsetStore
  readonly scheduleStore: PostgresScheduleStore
  readonly deadLetterStore: PostgresDeadLetterStore
  readonly #listener: PostgresListener | undefined
  readonly #owned: boolean
  readonly #now: () => number
  #closed: Promise<void> | undefined

  /** @internal Use {@link openPostgres}. */
  constructor(init: {
    kysely: Kysely<StatesourceTables>
    pool: pg.Pool | undefined
    owned: boolean
    schema: string
    channel: string
    listener: PostgresListener | undefined
    options: PostgresOptions
  }) {
    this.kysely = init.kysely
    this.pool = init.pool
    this.schema = init.schema
    this.#owned = init.owned
    this.#listener = init.listener
    this.#now = init.options.now ?? Date.now
    const query = kyselyQuery(init.kysely)
    this.journal = new PostgresJournal(query, journalSql(init.schema), init.channel, {
      ...init.options,
      writerId: init.options.writerId ?? randomUUID(),
    })
    this.snapshotStore = new PostgresSnapshotStore(query, init.schema)
    this.offsetStore = new PostgresOffsetStore(query, init.schema, this.#now)
    this.scheduleStore = new PostgresScheduleStore(query, init.schema)
    this.deadLetterStore = new PostgresDeadLetterStore(query, init.schema)
  }

  /** Counters of the `LISTEN` connection, or `undefined` when it is off. */
  get listenerStats(): PostgresListenerStats | undefined {
    return this.#listener?.stats
  }

  /**
   * A read journal over this database: SQL pages, woken after every commit of this process and, through
   * the `LISTEN` connection, of every other process (events show up within milliseconds), and polling
   * every `pollIntervalMs` (default 250) as the safety net.
   *
   * @example
   * ```ts
   * const events = pg.readJournal({ pollIntervalMs: 1000 }).allEvents(0)
   * ```
   */
  readJournal(config: PostgresReadJournalConfig = {}): ReadJournal {
    const wakeUps = this.#listener
      ? merge(this.journal.commits, this.#listener.wakeUps)
      : this.journal.commits
    return createPollingReadJournal(this.journal, { ...config, wakeUps })
  }

  /**
   * Runs `fn` in one PostgreSQL transaction: what it writes through `tx.kysely` and `tx.offsets` commits
   * together or not at all (throwing rolls back and rethrows). This is how a projection stores its read
   * model and its offset atomically (exactly-once); {@link createPostgresProjection} does it for you.
   *
   * @example
   * ```ts
   * await pg.transaction(async (tx) => {
   *   await sql`UPDATE balances SET amount = amount + 10 WHERE id = 'acc-1'`.execute(tx.kysely)
   *   await tx.offsets.save('balances', 42)
   * })
   * ```
   *
   * @remarks The transaction holds one pool connection until `fn` settles: await only database work in it.
   */
  async transaction<T>(fn: (tx: PostgresTransaction) => Promise<T>): Promise<T> {
    this.#assertOpen()
    return this.kysely
      .transaction()
      .execute((trx) =>
        fn({ kysely: trx, offsets: offsetOperations(kyselyQuery(trx), this.schema, this.#now) }),
      )
  }

  /**
   * Commits queued appends, stops the listener and, when {@link openPostgres} created the pool (from a
   * URL), closes it. A pool or Kysely instance given to {@link openPostgres} stays open: it belongs to
   * the caller.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.journal.close()
      await this.#listener?.close()
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
 * Opens a statesource database on PostgreSQL: from a connection URL (a pool is created and owned), a
 * `pg.Pool` or a Kysely instance on a `PostgresDialect`. Brings the statesource tables in `schema` up to
 * date with the library's own migrations (tracked in `statesource_migration` in that schema, apart from the
 * application's) and starts the `LISTEN` connection.
 *
 * @example
 * ```ts
 * const pg = await openPostgres('postgres://postgres@127.0.0.1:5432/app', { schema: 'statesource' })
 * const [outcome] = await pg.journal.append([
 *   { persistenceId: 'account|1', expectedSeqNr: 0, events: [{ type: 'opened', version: 1, payload: {}, tags: [], metadata: {} }] },
 * ])
 * await pg.close()
 * ```
 *
 * @remarks
 * Commits are as durable as the server makes them: with PostgreSQL's defaults (`fsync = on`,
 * `synchronous_commit = on`) an append resolves only after its batch is flushed to the server's disk.
 * A schema holding statesource tables this package did not create, or a newer schema, fails with
 * `SCHEMA_MISMATCH`; an unreachable server with `JOURNAL_FAILURE`.
 */
export async function openPostgres(
  target: string | pg.Pool | Kysely<any>,
  options: PostgresOptions = {},
): Promise<StatesourcePostgres> {
  const schema = validSchema(options.schema ?? 'public')
  const applicationName = options.applicationName ?? 'statesource'
  let kysely: Kysely<any>
  let pool: pg.Pool | undefined
  let owned = false
  let listenConfig: pg.ClientConfig | undefined
  if (typeof target === 'string') {
    const poolSize = validCount(options.poolSize ?? 10, 'poolSize')
    pool = new pg.Pool({
      connectionString: target,
      max: Math.max(1, poolSize),
      application_name: applicationName,
      ...(options.statementTimeoutMs !== undefined
        ? { statement_timeout: validCount(options.statementTimeoutMs, 'statementTimeoutMs') }
        : {}),
    })
    owned = true
    listenConfig = { connectionString: target }
  } else if (isKysely(target)) {
    kysely = target
  } else {
    pool = target
    listenConfig = { ...(target.options as pg.ClientConfig) }
  }
  if (pool) {
    // An idle connection that dies (server restart, pg_terminate_backend) is reported on the pool; without a
    // listener that event would end the process. The next query opens a new connection.
    if (owned) {
      pool.on('error', (error) =>
        options.logger?.warn(`An idle PostgreSQL connection failed: ${messageOf(error)}`),
      )
      pool.on('connect', (client) => {
        // A connection in use that dies also emits 'error' on its client once its query has failed (and the
        // query's caller has been told): without a listener of its own that late event ends the process too.
        client.on('error', (error) =>
          options.logger?.warn(`A PostgreSQL connection failed: ${messageOf(error)}`),
        )
        // A backend that is terminated (pg_terminate_backend, shutdown) fails its running query with a FATAL
        // error and closes the socket only after cleaning up. In between, the failed query's connection goes
        // back to the pool looking healthy, and the next append that takes it fails with "Connection
        // terminated unexpectedly". Ending it at once takes it out of the pool before anyone can reuse it.
        client.connection.on('errorMessage', (message: { severity?: string }) => {
          if (message.severity === 'FATAL' || message.severity === 'PANIC') {
            client.end().catch(() => undefined)
          }
        })
      })
    }
    kysely = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
  }
  kysely ??= target as Kysely<any>
  const where = typeof target === 'string' ? `The database at ${redact(target)}` : 'The database'
  try {
    await migrateStatesource(kysely, schema, where)
  } catch (error) {
    if (owned) await kysely.destroy().catch(() => undefined)
    throw openFailure(error, where)
  }
  const channel = channelName(schema)
  const listen = options.listen ?? true
  const clientConfig =
    listen === false
      ? undefined
      : typeof listen === 'string'
        ? { connectionString: listen }
        : listen === true
          ? listenConfig
          : listen
  let listener: PostgresListener | undefined
  if (clientConfig) {
    listener = new PostgresListener(
      { ...clientConfig, application_name: `${applicationName} listener` },
      channel,
      { logger: options.logger, reconnectMs: options.listenReconnectMs },
    )
    await listener.start()
  }
  return new StatesourcePostgres({
    kysely: kysely as Kysely<StatesourceTables>,
    pool,
    owned,
    schema,
    channel,
    listener,
    options,
  })
}

/** The `NOTIFY` channel of a schema's journal (an identifier: at most 63 bytes). */
export function channelName(schema: string): string {
  const name = `statesource_${schema}`
  if (Buffer.byteLength(name) <= 63) return name
  return `statesource_${createHash('sha256').update(schema).digest('hex').slice(0, 40)}`
}

function isKysely(target: unknown): target is Kysely<any> {
  return typeof (target as Kysely<any>).selectFrom === 'function'
}

function validSchema(schema: string): string {
  if (typeof schema !== 'string' || schema.length === 0 || schema.length > 63 || schema.includes('\u0000')) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `schema must be a PostgreSQL identifier of 1 to 63 characters, got ${JSON.stringify(schema)}.`,
    )
  }
  return schema
}

function validCount(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new StatesourceError('INVALID_INPUT', `${name} must be an integer >= 0, got ${value}.`)
  }
  return value
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')
}

function openFailure(error: unknown, where: string): Error {
  if (isStatesourceError(error)) return error
  return new StatesourceError(
    'JOURNAL_FAILURE',
    `${where} could not be opened: ${messageOf(error)}. Check the URL, that the server runs and that the user may create tables in the schema.`,
    { cause: error },
  )
}
