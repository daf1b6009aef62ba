import type { Logger } from '@statesource/core'
import pg from 'pg'
import { type Observable, Subject } from 'rxjs'
import { messageOf } from './journal-sql.ts'
import { quoteIdentifier } from './postgres-schema.ts'

/**
 * Counters of the `LISTEN` connection, for tests and monitoring.
 *
 * @example
 * ```ts
 * const { connects, notifications } = pg.listenerStats!
 * ```
 */
export interface PostgresListenerStats {
  /** Successful (re)connections, each followed by `LISTEN` and a drain of every live query. */
  readonly connects: number
  /** Notifications received (one per committed batch of any process, possibly coalesced by PostgreSQL). */
  readonly notifications: number
  /** The server process id of the current connection (for `pg_terminate_backend`), or `undefined`. */
  readonly backendPid: number | undefined
  /** Whether the connection is up and listening. */
  readonly listening: boolean
}

/**
 * One dedicated connection per process that `LISTEN`s on the journal's channel and wakes the read
 * journal on every notification. After every (re)connect it wakes the read journal too, so live queries
 * drain whatever was committed while it was away (PostgreSQL does not replay missed notifications).
 * A lost connection is reopened after `reconnectMs` (default 50), doubling up to 2 s; polling covers the gap.
 */
export class PostgresListener {
  readonly #config: pg.ClientConfig
  readonly #channel: string
  readonly #logger: Logger | undefined
  readonly #firstBackoffMs: number
  readonly #maxBackoffMs: number
  readonly #wakeUps = new Subject<void>()
  #client: pg.Client | undefined
  #backoffMs: number
  #timer: ReturnType<typeof setTimeout> | undefined
  #closed = false
  #stats = { connects: 0, notifications: 0, backendPid: undefined as number | undefined, listening: false }

  constructor(
    config: pg.ClientConfig,
    channel: string,
    options: { logger?: Logger | undefined; reconnectMs?: number | undefined } = {},
  ) {
    this.#config = config
    this.#channel = channel
    this.#logger = options.logger
    this.#firstBackoffMs = Math.max(1, options.reconnectMs ?? 50)
    this.#backoffMs = this.#firstBackoffMs
    this.#maxBackoffMs = Math.max(this.#firstBackoffMs, 2000)
  }

  /** Emits on every notification and after every (re)connect. */
  get wakeUps(): Observable<void> {
    return this.#wakeUps.asObservable()
  }

  get stats(): PostgresListenerStats {
    return { ...this.#stats }
  }

  /** Connects and listens; on failure keeps retrying in the background (polling still works meanwhile). */
  async start(): Promise<void> {
    await this.#connect()
  }

  async close(): Promise<void> {
    this.#closed = true
    if (this.#timer) clearTimeout(this.#timer)
    const client = this.#client
    this.#client = undefined
    this.#stats.listening = false
    this.#wakeUps.complete()
    await client?.end().catch(() => undefined)
  }

  async #connect(): Promise<void> {
    if (this.#closed) return
    const client = new pg.Client(this.#config)
    let lost = false
    const onLost = (error?: Error) => {
      if (lost) return
      lost = true
      client.removeAllListeners('notification')
      if (this.#client === client) this.#client = undefined
      this.#stats.listening = false
      this.#stats.backendPid = undefined
      client.end().catch(() => undefined)
      if (this.#closed) return
      this.#logger?.warn(
        `The PostgreSQL LISTEN connection was lost${error ? ` (${messageOf(error)})` : ''}; reconnecting in ${this.#backoffMs} ms. Live queries poll meanwhile.`,
      )
      this.#reconnectLater()
    }
    client.on('error', onLost)
    client.on('end', () => onLost())
    client.on('notification', () => {
      this.#stats.notifications++
      this.#wakeUps.next()
    })
    try {
      await client.connect()
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      await client.query(`LISTEN ${quoteIdentifier(this.#channel)}`)
      if (this.#closed || lost) {
        await client.end().catch(() => undefined)
        return
      }
      this.#client = client
      this.#backoffMs = this.#firstBackoffMs
      this.#stats.connects++
      this.#stats.backendPid = rows[0]?.pid
      this.#stats.listening = true
      // Whatever was committed while not listening: drain it now.
      this.#wakeUps.next()
    } catch (error) {
      onLost(error as Error)
    }
  }

  #reconnectLater(): void {
    if (this.#timer || this.#closed) return
    const wait = this.#backoffMs
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#maxBackoffMs)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.#connect()
    }, wait)
    this.#timer.unref?.()
  }
}
