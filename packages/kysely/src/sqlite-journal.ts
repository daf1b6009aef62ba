import {
  type AppendOutcome,
  type AppendRequest,
  type EventEnvelope,
  type EventPageSource,
  type Journal,
  JournalError,
  type ReplayOptions,
} from '@statesource/core'
import { type Observable, Subject } from 'rxjs'
import {
  type AppendContext,
  appendProgram,
  createSyncAppender,
  currentSeqNr,
  deleteProgram,
  encodeRequest,
  type PendingRequest,
  type SyncAppender,
} from './append-batch.ts'
import { type JournalRow, journalFailure, SQL, toEnvelope } from './journal-sql.ts'
import { all, BetterSqliteDriver, get, type SqlDriver, type SqlProgram } from './sql-driver.ts'

/**
 * Options of the SQLite journal (part of {@link SqliteOptions}).
 *
 * @example
 * ```ts
 * const sqlite = await openSqlite('app.db', { writerId: 'node-1', maxBatchEvents: 5000 })
 * ```
 */
export interface SqliteJournalConfig {
  /** Stamped on every envelope as `writerId`. Default: a random UUID per opened database. */
  writerId?: string
  /**
   * Group commit: appends that arrive in the same event-loop turn share one transaction, which is flushed
   * on `setImmediate`, or at once when this many events are queued. One transaction never takes more
   * calls than needed to reach it (a single larger call still commits atomically). Default 2000.
   */
  maxBatchEvents?: number
  /** Clock for `timestamp`. Default `Date.now`. */
  now?: () => number
}

/**
 * What {@link SqliteJournal.commits} emits after each commit that stored events.
 *
 * @example
 * ```ts
 * sqlite.journal.commits.subscribe((commit: SqliteCommit) => console.log(`stored up to ${commit.lastOrdering}`))
 * ```
 */
export interface SqliteCommit {
  /** The ordering of the last event of the transaction. */
  readonly lastOrdering: number
  /** How many events the transaction stored. */
  readonly events: number
}

/**
 * Counters of the group-commit writer, for tests and monitoring.
 *
 * @example
 * ```ts
 * const { transactions, events } = sqlite.journal.stats
 * console.log(`${events} events in ${transactions} transactions`)
 * ```
 */
export interface SqliteJournalStats {
  /** Write transactions committed by `append`. */
  readonly transactions: number
  /** Append requests that went into those transactions (conflicting ones included). */
  readonly requests: number
  /** Events stored. */
  readonly events: number
  /** Requests that failed with a concurrency conflict. */
  readonly conflicts: number
  /** Transactions that failed as a whole (every request in them rejected). */
  readonly failedTransactions: number
  /** The most requests one transaction carried. */
  readonly largestBatch: number
}

/** One `append` call: its requests in order, some already failed during encoding. */
interface PendingCall {
  readonly slots: (PendingRequest | AppendOutcome)[]
  readonly pending: PendingRequest[]
  readonly events: number
  resolve: (outcomes: AppendOutcome[]) => void
  reject: (error: Error) => void
}

/**
 * The statesource journal on SQLite: group commit on the write side, SQL pages for the read journal.
 * Get it from {@link openSqlite} or {@link fromKysely} as `sqlite.journal`.
 *
 * @example
 * ```ts
 * const sqlite = await openSqlite('app.db')
 * const [outcome] = await sqlite.journal.append([
 *   { persistenceId: 'account|1', expectedSeqNr: 0, events: [{ type: 'opened', version: 1, payload: {}, tags: [], metadata: {} }] },
 * ])
 * ```
 *
 * @remarks
 * Appends that arrive in the same event-loop turn go into one short, synchronous `BEGIN IMMEDIATE`
 * transaction (on the better-sqlite3 path no `await` happens inside it). Each request is checked against
 * the stream's current sequence number inside that transaction, so a conflicting request fails alone with
 * a `ConcurrencyError`, also against writers in other processes. Payloads are serialized before the
 * transaction: an unserializable one fails its own request with `SERIALIZATION_FAILED`. If the
 * transaction itself fails (disk full, I/O error, lock timeout), it is rolled back and every call in it
 * rejects with a `JournalError`.
 */
export class SqliteJournal implements Journal, EventPageSource {
  readonly #driver: SqlDriver
  /** The direct better-sqlite3 transaction body, when the driver has the connection. */
  readonly #appendSync: SyncAppender | undefined
  readonly #writerId: string
  readonly #now: () => number
  readonly #maxBatchEvents: number
  readonly #commits = new Subject<SqliteCommit>()
  #queue: PendingCall[] = []
  #queuedEvents = 0
  #scheduled = false
  #retry: ReturnType<typeof setTimeout> | undefined
  #inFlight: Promise<void> | undefined
  #closing = false
  #stats = { transactions: 0, requests: 0, events: 0, conflicts: 0, failedTransactions: 0, largestBatch: 0 }

  /** @internal Use {@link openSqlite} or {@link fromKysely}. */
  constructor(driver: SqlDriver, config: SqliteJournalConfig & { writerId: string }) {
    this.#driver = driver
    // On better-sqlite3, cached statements called directly are the cheapest way in; through Kysely every
    // statement costs a compile and a promise, so that path runs a program with multi-row inserts.
    this.#appendSync = driver instanceof BetterSqliteDriver ? createSyncAppender(driver.database) : undefined
    this.#writerId = config.writerId
    this.#now = config.now ?? Date.now
    this.#maxBatchEvents = Math.max(1, config.maxBatchEvents ?? 2000)
  }

  /** Emits after every commit that stored events: the read journal's in-process wake-up. */
  get commits(): Observable<SqliteCommit> {
    return this.#commits.asObservable()
  }

  /** Counters of the group-commit writer. */
  get stats(): SqliteJournalStats {
    return { ...this.#stats }
  }

  append(requests: readonly AppendRequest[]): Promise<AppendOutcome[]> {
    if (this.#closing) return Promise.reject(closedError())
    const slots: (PendingRequest | AppendOutcome)[] = []
    const pending: PendingRequest[] = []
    let events = 0
    for (const request of requests) {
      try {
        const encoded = encodeRequest(request)
        slots.push(encoded)
        pending.push(encoded)
        events += encoded.events.length
      } catch (error) {
        slots.push({ ok: false, error: error as Error })
      }
    }
    if (pending.length === 0) return Promise.resolve(slots as AppendOutcome[])
    return new Promise<AppendOutcome[]>((resolve, reject) => {
      this.#queue.push({ slots, pending, events, resolve, reject })
      this.#queuedEvents += events
      if (this.#queuedEvents >= this.#maxBatchEvents) this.#flush()
      else this.#schedule()
    })
  }

  async replay(persistenceId: string, options: ReplayOptions = {}): Promise<EventEnvelope[]> {
    this.#assertOpen()
    const max = options.max ?? -1
    if (max === 0) return []
    const rows = await this.#read(
      all<JournalRow>(SQL.byPersistenceId, [
        persistenceId,
        options.fromSeqNr ?? 1,
        options.toSeqNr ?? Number.MAX_SAFE_INTEGER,
        max,
      ]),
      `Replaying "${persistenceId}"`,
    )
    return rows.map(toEnvelope)
  }

  async highestSeqNr(persistenceId: string): Promise<number> {
    this.#assertOpen()
    return this.#read(currentSeqNr(persistenceId), `Reading the sequence number of "${persistenceId}"`)
  }

  async deleteTo(persistenceId: string, toSeqNr: number): Promise<void> {
    this.#assertOpen()
    // Behind the queued appends, so a delete never overtakes an append the caller already issued.
    await this.flush()
    try {
      await this.#driver.write(deleteProgram(persistenceId, toSeqNr))
    } catch (error) {
      throw journalFailure(error, `Deleting events of "${persistenceId}"`, 'Nothing was deleted; retry.')
    }
  }

  /** Resolves once every append issued so far is committed (or failed). */
  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#inFlight) {
      if (this.#inFlight) await this.#inFlight
      else {
        this.#flush()
        if (this.#queue.length > 0 && !this.#inFlight) await new Promise((resolve) => setTimeout(resolve, 1))
      }
    }
  }

  /** Commits what is queued, then rejects further calls. Does not close the database. */
  async close(): Promise<void> {
    if (this.#closing) return
    await this.flush()
    this.#closing = true
    if (this.#retry) clearTimeout(this.#retry)
    this.#commits.complete()
  }

  // EventPageSource: synchronous on better-sqlite3, promises through Kysely.

  readByPersistenceId(
    persistenceId: string,
    fromSeqNr: number,
    toSeqNr: number,
    limit: number,
  ): readonly EventEnvelope[] | Promise<readonly EventEnvelope[]> {
    return this.#readPage(
      all<JournalRow>(SQL.byPersistenceId, [persistenceId, fromSeqNr, toSeqNr, limit]),
      `Reading events of "${persistenceId}"`,
    )
  }

  readByTag(
    tag: string,
    afterOrdering: number,
    limit: number,
  ): readonly EventEnvelope[] | Promise<readonly EventEnvelope[]> {
    return this.#readPage(
      all<JournalRow>(SQL.byTag, [tag, afterOrdering, limit]),
      `Reading events tagged "${tag}"`,
    )
  }

  readAll(
    afterOrdering: number,
    limit: number,
  ): readonly EventEnvelope[] | Promise<readonly EventEnvelope[]> {
    return this.#readPage(all<JournalRow>(SQL.all, [afterOrdering, limit]), 'Reading all events')
  }

  readPersistenceIds(
    afterPosition: number,
    limit: number,
  ): { persistenceId: string; position: number }[] | Promise<{ persistenceId: string; position: number }[]> {
    const toIds = (rows: { persistence_id: string; position: number }[]) =>
      rows.map((r) => ({ persistenceId: r.persistence_id, position: r.position }))
    const rows = this.#read(
      all<{ persistence_id: string; position: number }>(SQL.persistenceIds, [afterPosition, limit]),
      'Reading persistence ids',
    )
    return rows instanceof Promise ? rows.then(toIds) : toIds(rows)
  }

  highestOrdering(): number | Promise<number> {
    const row = this.#read(get<{ ordering: number }>(SQL.highestOrdering, []), 'Reading the highest ordering')
    return row instanceof Promise ? row.then((r) => r?.ordering ?? 0) : (row?.ordering ?? 0)
  }

  #readPage(
    program: SqlProgram<JournalRow[]>,
    what: string,
  ): readonly EventEnvelope[] | Promise<readonly EventEnvelope[]> {
    const rows = this.#read(program, what)
    return rows instanceof Promise ? rows.then((r) => r.map(toEnvelope)) : rows.map(toEnvelope)
  }

  #read<T>(program: SqlProgram<T>, what: string): T | Promise<T> {
    try {
      const result = this.#driver.read(program)
      return result instanceof Promise
        ? result.catch((error: unknown) => Promise.reject(journalFailure(error, what)))
        : result
    } catch (error) {
      throw journalFailure(error, what)
    }
  }

  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      this.#flush()
    })
  }

  /** Takes calls off the queue up to the batch size and writes them in one transaction. */
  #flush(): void {
    if (this.#inFlight || this.#queue.length === 0) return
    if (this.#driver.isBusy()) {
      // A transaction we did not open is running on this connection (an application's Kysely transaction
      // between two awaits); joining it would tie our commit to theirs.
      this.#retry ??= setTimeout(() => {
        this.#retry = undefined
        this.#flush()
      }, 1)
      return
    }
    let events = 0
    let take = 0
    while (take < this.#queue.length && (take === 0 || events < this.#maxBatchEvents)) {
      events += this.#queue[take]!.events
      take++
    }
    const batch = this.#queue.slice(0, take)
    this.#queue = this.#queue.slice(take)
    this.#queuedEvents -= events
    const requests = batch.flatMap((call) => call.pending)

    const context: AppendContext = { now: this.#now(), writerId: this.#writerId }
    const appendSync = this.#appendSync
    let result: void | Promise<void>
    try {
      result =
        appendSync && this.#driver instanceof BetterSqliteDriver
          ? this.#driver.writeSync(() => appendSync.append(requests, context))
          : this.#driver.write(appendProgram(requests, context))
    } catch (error) {
      this.#settle(batch, requests, error)
      this.#afterFlush()
      return
    }
    if (result instanceof Promise) {
      this.#inFlight = result.then(
        () => this.#settle(batch, requests, undefined),
        (error: unknown) => this.#settle(batch, requests, error),
      )
      void this.#inFlight.then(() => {
        this.#inFlight = undefined
        this.#afterFlush()
      })
    } else {
      this.#settle(batch, requests, undefined)
      this.#afterFlush()
    }
  }

  #afterFlush(): void {
    if (this.#queue.length === 0) return
    if (this.#driver.synchronous) this.#schedule()
    else this.#flush()
  }

  #settle(batch: PendingCall[], requests: PendingRequest[], error: unknown): void {
    if (error !== undefined) {
      this.#appendSync?.invalidate()
      this.#stats.failedTransactions++
      const failure = journalFailure(
        error,
        'Appending to the journal',
        'Nothing from this append was written; retry it.',
      )
      for (const call of batch) call.reject(failure)
      return
    }
    let stored = 0
    let lastOrdering = 0
    this.#stats.transactions++
    this.#stats.requests += requests.length
    this.#stats.largestBatch = Math.max(this.#stats.largestBatch, requests.length)
    for (const request of requests) {
      if (request.outcome?.ok) {
        stored += request.outcome.envelopes.length
        lastOrdering = Math.max(lastOrdering, request.outcome.envelopes.at(-1)?.ordering ?? 0)
      } else this.#stats.conflicts++
    }
    this.#stats.events += stored
    for (const call of batch) {
      call.resolve(call.slots.map((slot) => ('ok' in slot ? slot : slot.outcome!)))
    }
    if (stored > 0) this.#commits.next({ lastOrdering, events: stored })
  }

  #assertOpen(): void {
    if (this.#closing) throw closedError()
  }
}

function closedError(): JournalError {
  return new JournalError('The SQLite journal is closed. Open the database again to keep writing.')
}
