import { type Logger, silentLogger } from '@statesource/core'
import pg from 'pg'
import { lockNamespace } from './shard.ts'

/** Settings of {@link ShardLeases}. Every time is in milliseconds. */
export interface ShardLeasesConfig {
  /** Where the lease connection connects (a URL or a `pg.ClientConfig`). */
  readonly connection: string | pg.ClientConfig
  /** Processes with the same cluster name share shards. Default `'statesource'`. */
  readonly clusterName?: string | undefined
  /** This process's id, unique in the cluster. */
  readonly nodeId: string
  /** Shown in `pg_stat_activity` beside the node id (for operators). Default `''`. */
  readonly address?: string | undefined
  readonly shardCount: number
  /** How often the lease connection proves it is alive and rebalances. Default 1,000. */
  readonly heartbeatMs?: number | undefined
  /**
   * A process whose lease connection has been silent this long is taken for dead: the others end its
   * connection (`pg_terminate_backend`), which frees its shards. A process that has not heard from its own
   * connection for half of it stops serving its shards. Default 10,000.
   */
  readonly leaseTimeoutMs?: number | undefined
  readonly logger?: Logger | undefined
  /** Called with shards just locked by this process. */
  readonly onAcquired: (shards: readonly number[]) => void
  /** Hand a shard off: stop taking its commands, let in-flight appends finish, stop its actors. Then it is unlocked. */
  readonly onRelease: (shard: number) => Promise<void>
  /** Called at once when the lease connection is lost: these shards are no longer this process's. */
  readonly onLost: (shards: readonly number[]) => void
  /** Called with readers just locked by this process: run them. */
  readonly onReadersAcquired?: ((names: readonly string[]) => void) | undefined
  /** Give a reader up: stop it (its in-flight apply settles). Then it is unlocked. */
  readonly onReaderRelease?: ((name: string) => Promise<void>) | undefined
  /** Called at once when the lease connection is lost: stop these readers now, they are not this process's any more. */
  readonly onReadersLost?: ((names: readonly string[]) => void) | undefined
}

interface Member {
  readonly pid: number
  readonly name: string
  readonly idleMs: number
  readonly state: string | null
  readonly me: boolean
}

/**
 * Shard ownership by PostgreSQL session advisory locks, held on one dedicated connection.
 *
 * Each shard is the lock `(namespace, shard)`, `namespace` a hash of the cluster name. Every
 * `heartbeatMs` the connection reads the cluster's members from `pg_stat_activity` (their
 * `application_name` starts with `statesource:<cluster>:`) and the held shard locks from `pg_locks`, then
 * takes free shards up to its fair share `ceil(shardCount / members)` or hands off the ones above it.
 * Members silent for `leaseTimeoutMs` are terminated so their shards move.
 */
export class ShardLeases {
  readonly #config: ShardLeasesConfig
  readonly #namespace: number
  readonly #prefix: string
  readonly #heartbeatMs: number
  readonly #leaseTimeoutMs: number
  readonly #logger: Logger
  readonly #owned = new Set<number>()
  readonly #releasing = new Set<number>()
  #client: pg.Client | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #lastOkAt = 0
  #closed = false
  #reconnectMs = 0
  #members = 0
  /** Readers this process may run, by name, with the low 32 bits of their lock key. */
  readonly #readerKeys = new Map<string, number>()
  readonly #ownedReaders = new Set<string>()
  /** Readers that were free at the previous heartbeat: taken even beyond the fair share, so none stays unrun. */
  #freeReaders = new Set<string>()

  constructor(config: ShardLeasesConfig) {
    this.#config = config
    const cluster = config.clusterName ?? 'statesource'
    this.#namespace = lockNamespace(cluster)
    this.#prefix = `statesource:${cluster}:`
    this.#heartbeatMs = config.heartbeatMs ?? 1_000
    this.#leaseTimeoutMs = config.leaseTimeoutMs ?? 10_000
    this.#logger = config.logger ?? silentLogger
    const name = `${this.#prefix}${config.nodeId}@${config.address ?? ''}`
    if (Buffer.byteLength(name) > 63) {
      throw new RangeError(
        `The lease connection's application_name "${name}" is longer than PostgreSQL's 63 bytes. Use a shorter cluster name, node id or address.`,
      )
    }
  }

  /** The advisory-lock namespace (first key) of this cluster's shard locks. */
  get namespace(): number {
    return this.#namespace
  }

  /** Shards this process holds now (including those being handed off). */
  get owned(): ReadonlySet<number> {
    return this.#owned
  }

  /** Readers this process holds (runs) now. */
  get ownedReaders(): ReadonlySet<string> {
    return this.#ownedReaders
  }

  /**
   * Lets this process compete for `names`: each reader is the session advisory lock on the single bigint key
   * `namespace << 32 | hash(name)` (one key space; shards use the two-integer key space, which never
   * overlaps it), taken at the next heartbeat if free.
   */
  addReaders(names: readonly string[]): void {
    for (const name of names) this.#readerKeys.set(name, readerKey(name))
  }

  /** Stops competing for `names`: the ones held here are stopped (`onReaderRelease`) and unlocked. */
  async removeReaders(names: readonly string[]): Promise<void> {
    for (const name of names) this.#readerKeys.delete(name)
    const held = names.filter((name) => this.#ownedReaders.has(name))
    await this.#releaseReaders(held)
  }

  /** Members seen at the last heartbeat. */
  get members(): number {
    return this.#members
  }

  /**
   * Whether this process may serve `shard` now: it holds the lock, is not handing it off, and its lease
   * connection answered within half the lease timeout (a process that was paused finds out here).
   */
  isServing(shard: number): boolean {
    if (!this.#owned.has(shard) || this.#releasing.has(shard)) return false
    if (Date.now() - this.#lastOkAt > this.#leaseTimeoutMs / 2) {
      this.#lose('its lease connection was silent for more than half the lease timeout')
      return false
    }
    return true
  }

  /** Connects and starts the heartbeat. */
  start(): void {
    this.#schedule(0)
  }

  /** Hands off every shard (drained), then closes the lease connection. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer) clearTimeout(this.#timer)
    const shards = [...this.#owned]
    for (const shard of shards) this.#releasing.add(shard)
    await Promise.allSettled([
      ...shards.map((shard) => this.#config.onRelease(shard)),
      ...[...this.#ownedReaders].map((name) => this.#config.onReaderRelease?.(name)),
    ])
    this.#ownedReaders.clear()
    this.#owned.clear()
    this.#releasing.clear()
    const client = this.#client
    this.#client = undefined
    await client?.end().catch(() => undefined)
  }

  #schedule(ms: number): void {
    if (this.#closed) return
    this.#timer = setTimeout(() => void this.#tick(), ms)
  }

  async #tick(): Promise<void> {
    try {
      // Back from a pause longer than half the lease: the others may have taken everything meanwhile.
      if (this.#client && Date.now() - this.#lastOkAt > this.#leaseTimeoutMs / 2) {
        this.#lose('its lease connection was silent for more than half the lease timeout')
      }
      if (!this.#client) await this.#connect()
      await this.#rebalance()
      this.#reconnectMs = 0
      this.#schedule(this.#heartbeatMs)
    } catch (error) {
      if (this.#closed) return
      this.#logger.warn(
        `The shard lease connection of "${this.#config.nodeId}" failed: ${(error as Error)?.message ?? error}. Its shards are released; reconnecting.`,
        { error },
      )
      this.#lose('its lease connection failed')
      this.#reconnectMs = Math.min(Math.max(this.#reconnectMs * 2, 50), this.#heartbeatMs * 2)
      this.#schedule(this.#reconnectMs)
    }
  }

  async #connect(): Promise<void> {
    const base =
      typeof this.#config.connection === 'string'
        ? { connectionString: this.#config.connection }
        : this.#config.connection
    const client = new pg.Client({
      ...base,
      application_name: `${this.#prefix}${this.#config.nodeId}@${this.#config.address ?? ''}`,
      keepAlive: true,
      keepAliveInitialDelayMillis: Math.max(1_000, this.#heartbeatMs),
      query_timeout: Math.max(this.#leaseTimeoutMs / 2, this.#heartbeatMs),
      connectionTimeoutMillis: Math.max(this.#leaseTimeoutMs / 2, this.#heartbeatMs),
    })
    const lost = () => {
      if (this.#client === client) this.#lose('its lease connection was closed')
    }
    client.on('error', lost)
    client.on('end', lost)
    await client.connect()
    if (this.#closed) {
      await client.end().catch(() => undefined)
      return
    }
    this.#client = client
    this.#lastOkAt = Date.now()
  }

  /** The lease connection is gone or untrusted: every shard stops at once, the connection is dropped. */
  #lose(reason: string): void {
    const client = this.#client
    this.#client = undefined
    if (client) {
      ;(client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy()
      client.end().catch(() => undefined)
    }
    if (this.#ownedReaders.size > 0) {
      const readers = [...this.#ownedReaders]
      this.#ownedReaders.clear()
      this.#logger.warn(
        `"${this.#config.nodeId}" lost its readers ${readers.map((r) => `"${r}"`).join(', ')}: ${reason}. They are stopped; other processes take them.`,
      )
      this.#config.onReadersLost?.(readers)
    }
    if (this.#owned.size === 0) return
    const shards = [...this.#owned]
    this.#owned.clear()
    this.#releasing.clear()
    this.#logger.warn(
      `"${this.#config.nodeId}" lost its ${shards.length} shards: ${reason}. Their actors are stopped; the shards move to other processes.`,
    )
    this.#config.onLost(shards)
  }

  async #rebalance(): Promise<void> {
    const client = this.#client
    if (!client) return
    const members = (
      await client.query<Member>(
        `SELECT pid, application_name AS name, state,
                (extract(epoch FROM (now() - state_change)) * 1000)::float8 AS "idleMs",
                pid = pg_backend_pid() AS me
           FROM pg_stat_activity WHERE left(application_name, length($1)) = $1`,
        [this.#prefix],
      )
    ).rows
    this.#lastOkAt = Date.now()
    const dead = members.filter((m) => !m.me && m.state !== 'active' && m.idleMs > this.#leaseTimeoutMs)
    for (const member of dead) {
      this.#logger.warn(
        `Cluster member "${member.name}" has been silent for ${Math.round(member.idleMs)} ms (lease timeout ${this.#leaseTimeoutMs} ms): ending its lease connection so its shards move.`,
      )
      await client.query('SELECT pg_terminate_backend($1)', [member.pid])
    }
    const live = members.length - dead.length
    this.#members = live
    await this.#rebalanceShards(client, live)
    await this.#takeReaders(client, live)
  }

  async #rebalanceShards(client: pg.Client, live: number): Promise<void> {
    const fairShare = Math.ceil(this.#config.shardCount / Math.max(1, live))
    const held = this.#owned.size
    if (held > fairShare) {
      const give = [...this.#owned]
        .filter((s) => !this.#releasing.has(s))
        .sort((a, b) => b - a)
        .slice(0, held - this.#releasing.size - fairShare)
      if (give.length > 0) await this.#handOff(client, give)
      return
    }
    if (held >= fairShare) return
    const taken = new Set(
      (
        await client.query<{ shard: number }>(
          `SELECT objid::int AS shard FROM pg_locks
            WHERE locktype = 'advisory' AND classid = $1::int::oid AND objsubid = 2 AND granted`,
          [this.#namespace],
        )
      ).rows.map((r) => r.shard),
    )
    const free: number[] = []
    for (let shard = 0; shard < this.#config.shardCount; shard++) if (!taken.has(shard)) free.push(shard)
    shuffle(free)
    const want = free.slice(0, fairShare - held)
    if (want.length === 0) return
    const got = (
      await client.query<{ shard: number }>(
        'SELECT s AS shard FROM unnest($2::int[]) s WHERE pg_try_advisory_lock($1, s)',
        [this.#namespace, want],
      )
    ).rows.map((r) => r.shard)
    if (this.#client !== client) {
      // Lost while locking: the locks went with the connection.
      return
    }
    for (const shard of got) this.#owned.add(shard)
    if (got.length > 0) this.#config.onAcquired(got)
  }

  /**
   * Takes free readers up to this process's fair share `ceil(readers / members)`, and beyond it those that
   * were free at the previous heartbeat too (the other members may run none). Readers are not handed back
   * to even out: moving one costs a stop and a resume, and fairness is not needed for correctness.
   */
  async #takeReaders(client: pg.Client, live: number): Promise<void> {
    if (this.#readerKeys.size === 0 || this.#client !== client) return
    const candidates = [...this.#readerKeys.keys()].filter((name) => !this.#ownedReaders.has(name))
    if (candidates.length === 0) {
      this.#freeReaders = new Set()
      return
    }
    const held = new Set(
      (
        await client.query<{ key: string }>(
          `SELECT objid::bigint AS key FROM pg_locks
            WHERE locktype = 'advisory' AND classid = $1::int::oid AND objsubid = 1 AND granted`,
          [this.#namespace],
        )
      ).rows.map((r) => Number(r.key)),
    )
    const free = candidates.filter((name) => !held.has(this.#readerKeys.get(name)!))
    shuffle(free)
    const room = Math.max(0, Math.ceil(this.#readerKeys.size / Math.max(1, live)) - this.#ownedReaders.size)
    const want = free.filter((name, i) => i < room || this.#freeReaders.has(name))
    this.#freeReaders = new Set(free)
    if (want.length === 0) return
    const got = (
      await client.query<{ name: string }>(
        `SELECT t.name FROM unnest($2::text[], $3::bigint[]) AS t(name, key)
          WHERE pg_try_advisory_lock(($1::bigint << 32) | t.key)`,
        [this.#namespace, want, want.map((name) => this.#readerKeys.get(name)!)],
      )
    ).rows.map((r) => r.name)
    if (this.#client !== client) return
    const taken = got.filter((name) => this.#readerKeys.has(name))
    for (const name of taken) this.#ownedReaders.add(name)
    // Removed while locking: give those locks straight back.
    const stale = got.filter((name) => !this.#readerKeys.has(name))
    if (stale.length > 0) await this.#unlockReaders(client, stale)
    if (taken.length > 0) this.#config.onReadersAcquired?.(taken)
  }

  async #releaseReaders(names: readonly string[]): Promise<void> {
    if (names.length === 0) return
    await Promise.allSettled(names.map((name) => this.#config.onReaderRelease?.(name)))
    const client = this.#client
    for (const name of names) this.#ownedReaders.delete(name)
    if (client) await this.#unlockReaders(client, names).catch(() => undefined)
  }

  async #unlockReaders(client: pg.Client, names: readonly string[]): Promise<void> {
    await client.query('SELECT pg_advisory_unlock(($1::bigint << 32) | k) FROM unnest($2::bigint[]) k', [
      this.#namespace,
      names.map(readerKey),
    ])
  }

  async #handOff(client: pg.Client, shards: number[]): Promise<void> {
    for (const shard of shards) this.#releasing.add(shard)
    await Promise.allSettled(shards.map((shard) => this.#config.onRelease(shard)))
    if (this.#client !== client) return
    await client.query('SELECT pg_advisory_unlock($1, s) FROM unnest($2::int[]) s', [this.#namespace, shards])
    for (const shard of shards) {
      this.#owned.delete(shard)
      this.#releasing.delete(shard)
    }
  }
}

/** The low 32 bits of a reader's lock key: FNV-1a-32 of its name's UTF-8 bytes. */
function readerKey(name: string): number {
  let hash = 0x811c9dc5
  for (const byte of new TextEncoder().encode(name)) hash = Math.imul(hash ^ byte, 0x01000193)
  return hash >>> 0
}

function shuffle<T>(items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    const a = items[i]!
    items[i] = items[j]!
    items[j] = a
  }
}
