import { randomUUID } from 'node:crypto'
import {
  type AnyAggregate,
  type GatewayCommandEvent,
  type GatewayConfig,
  type GatewayEvent,
  type GatewaySnapshot,
  type Logger,
  type PlacedReader,
  type ReaderPlacement,
  type SendResult,
  StatesourceError,
  silentLogger,
  TimeoutError,
} from '@statesource/core'
import { createGatewayLogic } from '@statesource/core/internal'
import type { Msg, NatsConnection, NatsError, Subscription } from 'nats'
import type pg from 'pg'
import {
  type ActorLogic,
  type ActorSystem,
  type AnyActorRef,
  type AnyActorScope,
  createActor,
  type Snapshot,
} from 'xstate'
import { DEFAULT_SHARD_COUNT, shardOf } from './shard.ts'
import { ShardLeases } from './shard-leases.ts'
import { decode, encode, fromWireError, toWireError, type WireCommand, type WireReply } from './wire.ts'

/**
 * Everything a clustered gateway needs: the single-process {@link GatewayConfig} (its journal must be the
 * shared PostgreSQL journal) plus where the leases and the routing live.
 *
 * @example
 * ```ts
 * const gateway = createClusterGatewayLogic({
 *   aggregates: [counter],
 *   journal: db.journal,
 *   lease: 'postgres://postgres@127.0.0.1:5432/app',
 *   nats: await connect({ servers: '127.0.0.1:4222' }),
 *   nodeId: 'api-1',
 * })
 * ```
 */
export interface ClusterGatewayConfig extends GatewayConfig {
  /** The PostgreSQL server of the shard leases (a URL or `pg.ClientConfig`): the journal's server. */
  readonly lease: string | pg.ClientConfig
  /** A connected NATS client: commands for shards owned elsewhere travel over it. */
  readonly nats: NatsConnection
  /** This process's id, unique in the cluster; also stamped into events as `writerId`. */
  readonly nodeId: string
  /** Shown in `pg_stat_activity` beside the node id. Default `''`. */
  readonly address?: string | undefined
  /** Processes with the same name share shards and subjects. Default `'statesource'`. */
  readonly clusterName?: string | undefined
  /** Number of shards; the same in every process for the cluster's lifetime. Default 1,024. */
  readonly shardCount?: number | undefined
  /** Lease heartbeat and rebalance interval. Default 1,000 ms. */
  readonly heartbeatMs?: number | undefined
  /** A process silent this long loses its shards to the others. Default 10,000 ms. */
  readonly leaseTimeoutMs?: number | undefined
  /** Timeout of a command sent without `timeoutMs`. Default 5,000 ms (the repository's default). */
  readonly commandTimeoutMs?: number | undefined
  /** How long one forwarded attempt waits for the owner before it is retried. Default 2,000 ms. */
  readonly attemptTimeoutMs?: number | undefined
  /**
   * How long a handoff waits for in-flight commands before it stops the shard's actors anyway (their appends
   * are then fenced if the new owner wrote first). Default 2,000 ms or a quarter of `leaseTimeoutMs`, the
   * smaller.
   */
  readonly handoffTimeoutMs?: number | undefined
  /** NATS subject prefix; shard `n` is `<prefix>.<n>`. Default `statesource.<clusterName>.shard`. */
  readonly subjectPrefix?: string | undefined
  /** Told about every shard acquired, handed off or lost (for metrics and tests). */
  readonly onShardEvent?: ((event: ShardEvent) => void) | undefined
  /** Told about every reader this process starts, hands off or loses (for metrics and tests). */
  readonly onReaderEvent?: ((event: ReaderEvent) => void) | undefined
}

/** A change of the readers this process runs. `at` is `Date.now()`. */
export type ReaderEvent = {
  readonly type: 'acquired' | 'released' | 'lost'
  readonly readers: readonly string[]
  readonly at: number
}

/** A change of this process's shard ownership. `at` is `Date.now()`. */
export type ShardEvent =
  | { readonly type: 'acquired'; readonly shards: readonly number[]; readonly at: number }
  | { readonly type: 'released'; readonly shard: number; readonly at: number }
  | { readonly type: 'lost'; readonly shards: readonly number[]; readonly at: number }

/** Counters on the clustered gateway's snapshot. */
export interface ClusterGatewayStats {
  /** Commands received by this gateway (from its own repositories). */
  commands: number
  /** Commands this process served for its own shards, from here or from other processes. */
  servedLocally: number
  /** Commands forwarded to another process. */
  forwarded: number
  /** Attempts repeated (no owner yet, owner handing off, fenced write). */
  retries: number
  /** Shards owned now. */
  ownedShards: number
  /** Readers (projections) running in this process now. */
  runningReaders: number
}

/** The clustered gateway actor's snapshot. `context.runtime` is internal. */
export type ClusterGatewaySnapshot = Snapshot<undefined> & {
  context: {
    readonly runtime: ClusterGatewayRuntime
    readonly stats: ClusterGatewayStats
    /** What `topology.materialize({ gateway })` uses to run each reader in one process of the cluster. */
    readonly readerPlacement: ReaderPlacement
  }
}

/** The clustered gateway's actor logic type. */
export type ClusterGatewayLogic = ActorLogic<ClusterGatewaySnapshot, GatewayEvent, any, ActorSystem<any>>

interface ShardHost {
  readonly shard: number
  readonly gateway: AnyActorRef
  subscription: Subscription | undefined
  serving: boolean
}

/** One command being routed: settles its caller exactly once. */
interface Routed {
  readonly message: GatewayCommandEvent
  readonly aggregate: AnyAggregate
  readonly pid: string
  readonly shard: number
  readonly commandId: string
  readonly deadline: number
  readonly timeoutMs: number
  attempts: number
  settled: boolean
  lastProblem: 'no-owner' | 'timeout' | 'retry'
}

const RETRY_FIRST_MS = 5
const RETRY_MAX_MS = 200

/**
 * The clustered gateway's working state: the shards this process owns (one single-process gateway each),
 * the lease connection and the NATS subscriptions.
 */
export class ClusterGatewayRuntime {
  readonly stats: ClusterGatewayStats = {
    commands: 0,
    servedLocally: 0,
    forwarded: 0,
    retries: 0,
    ownedShards: 0,
    runningReaders: 0,
  }
  /**
   * Runs each reader handed to it (by `topology.materialize({ gateway })`) in one process of the cluster:
   * a session advisory lock per reader name on the lease connection. The process holding the lock runs the
   * reader from its stored offset; when the lease connection is lost it stops it at once and another
   * process takes the lock and resumes from the offset.
   */
  readonly readerPlacement: ReaderPlacement = {
    place: (readers) => {
      for (const reader of readers) this.#readers.set(reader.name, reader)
      this.#leases.addReaders(readers.map((r) => r.name))
      return async () => {
        await this.#leases.removeReaders(readers.map((r) => r.name))
        for (const reader of readers) {
          if (this.#readers.get(reader.name) === reader) this.#readers.delete(reader.name)
        }
      }
    },
  }
  readonly #readers = new Map<string, PlacedReader>()
  readonly #runningReaders = new Set<string>()
  readonly #config: ClusterGatewayConfig
  readonly #shardCount: number
  readonly #prefix: string
  readonly #aggregates = new Map<string, AnyAggregate>()
  readonly #hosts = new Map<number, ShardHost>()
  readonly #leases: ShardLeases
  readonly #logger: Logger
  readonly #gatewayConfig: GatewayConfig
  #scope: AnyActorScope | undefined
  #running = false
  #stopped = false

  constructor(config: ClusterGatewayConfig) {
    this.#config = config
    this.#shardCount = config.shardCount ?? DEFAULT_SHARD_COUNT
    if (!Number.isInteger(this.#shardCount) || this.#shardCount < 1 || this.#shardCount > 2 ** 31 - 1) {
      throw new StatesourceError(
        'INVALID_INPUT',
        `shardCount must be a positive integer, got ${config.shardCount}. Keep the default (1,024) unless you know you need more.`,
      )
    }
    const cluster = config.clusterName ?? 'statesource'
    this.#prefix = config.subjectPrefix ?? `statesource.${cluster}.shard`
    this.#logger = config.logger ?? silentLogger
    for (const aggregate of config.aggregates) this.#aggregates.set(aggregate.type, aggregate)
    this.#gatewayConfig = { ...config, writerId: config.writerId ?? config.nodeId }
    this.#leases = new ShardLeases({
      connection: config.lease,
      clusterName: cluster,
      nodeId: config.nodeId,
      address: config.address,
      shardCount: this.#shardCount,
      heartbeatMs: config.heartbeatMs,
      leaseTimeoutMs: config.leaseTimeoutMs,
      logger: this.#logger,
      onAcquired: (shards) => this.#acquired(shards),
      onRelease: (shard) => this.#release(shard),
      onLost: (shards) => this.#lost(shards),
      onReadersAcquired: (names) => this.#readersAcquired(names),
      onReaderRelease: (name) => this.#readerRelease(name),
      onReadersLost: (names) => this.#readersLost(names),
    })
  }

  attach(scope: AnyActorScope): void {
    this.#scope = scope
  }

  start(): void {
    if (this.#running || this.#stopped) return
    this.#running = true
    this.#leases.start()
  }

  /** Shards this process owns now. */
  ownedShards(): number[] {
    return [...this.#hosts.keys()].sort((a, b) => a - b)
  }

  /** The readers (projections) running in this process now, by name; the others run elsewhere in the cluster. */
  runningReaders(): string[] {
    return [...this.#runningReaders].sort()
  }

  /**
   * What `handles.stop()` calls on a gateway it was given: in a cluster, draining is leaving (every shard is
   * handed off after its in-flight commands, the readers stop, the leases are released), so the others take
   * over instead of this process refusing commands for shards it still holds.
   */
  async drain(): Promise<void> {
    await this.leave()
  }

  /** The shard of an aggregate id. */
  shardOf(aggregateType: string, id: string): number {
    const aggregate = this.#aggregates.get(aggregateType)
    if (!aggregate) throw notConfigured(aggregateType)
    return shardOf(aggregate.persistenceId(id), this.#shardCount)
  }

  /**
   * Leaves the cluster gracefully: hands every shard off (in-flight commands finish, actors stop) and
   * closes the lease connection, so the other processes take the shards at their next heartbeat.
   */
  async leave(): Promise<void> {
    this.#stopped = true
    await this.#leases.close()
  }

  handle(event: GatewayEvent): void {
    if (event.type === 'statesource.command') return this.#intake(event as GatewayCommandEvent)
    if (event.type === 'xstate.stop') return this.#stopNow()
    // Errors of the per-shard gateways arrive as xstate.error.actor.*: they stop on their own; nothing to do.
  }

  // ---- ownership ----------------------------------------------------------------------------

  #acquired(shards: readonly number[]): void {
    const scope = this.#scope
    for (const shard of shards) {
      if (this.#hosts.has(shard)) continue
      const gateway = createActor(createGatewayLogic(this.#gatewayConfig), {
        ...(scope ? { parent: scope.self } : {}),
        id: `shard-${shard}`,
      })
      gateway.start()
      const host: ShardHost = { shard, gateway, subscription: undefined, serving: true }
      host.subscription = this.#config.nats.subscribe(`${this.#prefix}.${shard}`, {
        callback: (error, msg) => {
          if (!error) this.#onRemote(host, msg)
        },
      })
      this.#hosts.set(shard, host)
    }
    this.stats.ownedShards = this.#hosts.size
    this.#config.onShardEvent?.({ type: 'acquired', shards, at: Date.now() })
  }

  async #release(shard: number): Promise<void> {
    const host = this.#hosts.get(shard)
    if (!host) return
    // 1. Take no more commands: off the subject, and local intake forwards from now on.
    host.serving = false
    host.subscription?.unsubscribe()
    await this.#config.nats.flush().catch(() => undefined)
    // 2. Let the commands already inside finish (their appends commit or are fenced), bounded.
    const runtime = (host.gateway.getSnapshot() as GatewaySnapshot).context?.runtime
    // Bounded well inside the lease: the heartbeat waits for the handoff, and a silent member loses its lease.
    const limit =
      this.#config.handoffTimeoutMs ?? Math.min(2_000, (this.#config.leaseTimeoutMs ?? 10_000) / 4)
    if (runtime) {
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([
        runtime.drain(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, limit)
        }),
      ])
      clearTimeout(timer)
    }
    // 3. Stop its actors; the caller unlocks.
    this.#stopHost(host)
    this.#config.onShardEvent?.({ type: 'released', shard, at: Date.now() })
  }

  #readersAcquired(names: readonly string[]): void {
    for (const name of names) {
      this.#runningReaders.add(name)
      void this.#readers.get(name)?.start()
    }
    this.stats.runningReaders = this.#runningReaders.size
    this.#config.onReaderEvent?.({ type: 'acquired', readers: names, at: Date.now() })
  }

  async #readerRelease(name: string): Promise<void> {
    this.#runningReaders.delete(name)
    this.stats.runningReaders = this.#runningReaders.size
    await this.#readers.get(name)?.stop()
    this.#config.onReaderEvent?.({ type: 'released', readers: [name], at: Date.now() })
  }

  #readersLost(names: readonly string[]): void {
    for (const name of names) {
      this.#runningReaders.delete(name)
      // Stops applying now; the apply under way settles on its own (its transaction commits or fails).
      void this.#readers.get(name)?.stop()
    }
    this.stats.runningReaders = this.#runningReaders.size
    this.#config.onReaderEvent?.({ type: 'lost', readers: names, at: Date.now() })
  }

  #lost(shards: readonly number[]): void {
    for (const shard of shards) {
      const host = this.#hosts.get(shard)
      if (!host) continue
      host.serving = false
      host.subscription?.unsubscribe()
      this.#stopHost(host)
    }
    this.#config.onShardEvent?.({ type: 'lost', shards, at: Date.now() })
  }

  #stopHost(host: ShardHost): void {
    if (this.#hosts.get(host.shard) === host) this.#hosts.delete(host.shard)
    this.stats.ownedShards = this.#hosts.size
    // Queued commands are refused with GATEWAY_STOPPED and routed again; in-flight appends complete and
    // reply (or are refused by the journal's expected sequence numbers).
    if (this.#scope) this.#scope.stopChild(host.gateway)
    else host.gateway.stop()
  }

  #stopNow(): void {
    this.#stopped = true
    for (const host of [...this.#hosts.values()]) {
      host.serving = false
      host.subscription?.unsubscribe()
      this.#stopHost(host)
    }
    void this.#leases.close()
  }

  // ---- routing ------------------------------------------------------------------------------

  #intake(message: GatewayCommandEvent): void {
    this.stats.commands++
    const aggregate = this.#aggregates.get(message.aggregateType)
    if (!aggregate) return settle(message, notConfigured(message.aggregateType))
    if (typeof message.id !== 'string' || message.id.length === 0) {
      return settle(
        message,
        new StatesourceError(
          'INVALID_INPUT',
          `The aggregate id must be a non-empty string, got ${JSON.stringify(message.id)}.`,
        ),
      )
    }
    if (this.#stopped) {
      return settle(
        message,
        new StatesourceError(
          'GATEWAY_STOPPED',
          'The gateway is not running and accepts no commands. Start it again.',
        ),
      )
    }
    const pid = aggregate.persistenceId(message.id)
    const timeoutMs = message.options?.timeoutMs ?? this.#config.commandTimeoutMs ?? 5_000
    const routed: Routed = {
      message,
      aggregate,
      pid,
      shard: shardOf(pid, this.#shardCount),
      // Every attempt carries the same command id, so a retry after a handoff returns the first result.
      commandId: message.options?.commandId ?? randomUUID(),
      deadline: Date.now() + timeoutMs,
      timeoutMs,
      attempts: 0,
      settled: false,
      lastProblem: 'no-owner',
    }
    this.#attempt(routed)
  }

  #attempt(routed: Routed): void {
    if (routed.settled) return
    routed.attempts++
    const host = this.#hosts.get(routed.shard)
    if (host?.serving && this.#leases.isServing(routed.shard)) {
      this.stats.servedLocally++
      const options = { ...routed.message.options, commandId: routed.commandId }
      const { replyTo: _replyTo, ...message } = routed.message
      host.gateway.send({
        ...message,
        options,
        reply: (result: SendResult | StatesourceError) => {
          if (result instanceof Error && this.#retryable(result, routed.message.options?.expectedVersion)) {
            routed.lastProblem = 'retry'
            return this.#retryLater(routed)
          }
          this.#finish(routed, result)
        },
      } satisfies GatewayCommandEvent)
      return
    }
    this.#forward(routed)
  }

  #forward(routed: Routed): void {
    const remaining = routed.deadline - Date.now()
    if (remaining <= 0) return this.#giveUp(routed)
    this.stats.forwarded++
    const options = routed.message.options
    const wire: WireCommand = {
      aggregateType: routed.message.aggregateType,
      id: routed.message.id,
      command: routed.message.command,
      commandId: routed.commandId,
      remainingMs: remaining,
      ...(options?.expectedVersion !== undefined ? { expectedVersion: options.expectedVersion } : {}),
      ...(options?.metadata !== undefined ? { metadata: options.metadata } : {}),
    }
    const attemptMs = Math.min(remaining, this.#config.attemptTimeoutMs ?? 2_000)
    this.#config.nats.request(`${this.#prefix}.${routed.shard}`, encode(wire), { timeout: attemptMs }).then(
      (msg) => {
        let reply: WireReply
        try {
          reply = decode<WireReply>(msg.data)
        } catch (error) {
          return this.#finish(
            routed,
            new StatesourceError(
              'JOURNAL_FAILURE',
              `The owner of shard ${routed.shard} sent an unreadable reply.`,
              {
                cause: error,
              },
            ),
          )
        }
        if ('ok' in reply) return this.#finish(routed, reply.ok)
        if ('error' in reply) return this.#finish(routed, fromWireError(reply.error))
        routed.lastProblem = 'retry'
        this.#retryLater(routed)
      },
      (error: NatsError) => {
        routed.lastProblem = error?.code === '503' ? 'no-owner' : 'timeout'
        this.#retryLater(routed)
      },
    )
  }

  /** Tries again after a backoff; gives up (typed, before the caller's own timer fires) when that would pass the deadline. */
  #retryLater(routed: Routed): void {
    if (routed.settled) return
    const wait = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.min(routed.attempts - 1, 8))
    if (Date.now() + wait >= routed.deadline) return this.#giveUp(routed)
    this.stats.retries++
    setTimeout(() => this.#attempt(routed), wait)
  }

  #giveUp(routed: Routed): void {
    const what = `Command "${routed.message.command?.type}" for "${routed.pid}"`
    this.#finish(
      routed,
      routed.lastProblem === 'no-owner'
        ? new StatesourceError(
            'SHARD_UNAVAILABLE',
            `${what} found no owner of shard ${routed.shard} before its ${routed.timeoutMs} ms timeout (${routed.attempts} attempts). Check that the cluster's processes are running and reach PostgreSQL and NATS, then retry with the same commandId "${routed.commandId}".`,
          )
        : new TimeoutError(what, routed.timeoutMs),
    )
  }

  #finish(routed: Routed, result: SendResult | StatesourceError): void {
    if (routed.settled) return
    routed.settled = true
    settle(routed.message, result)
  }

  /**
   * Failures that mean "this process is not (or no longer) the owner" rather than an answer: the shard's
   * gateway stopped under the command, or the journal refused a stale write (the fence) when the caller
   * set no expected version of its own.
   */
  #retryable(error: StatesourceError, expectedVersion: number | undefined): boolean {
    if (this.#stopped) return false
    if (error.code === 'GATEWAY_STOPPED') return true
    return error.code === 'CONCURRENCY_CONFLICT' && expectedVersion === undefined
  }

  /** A command from another process for a shard this process owned when it subscribed. */
  #onRemote(host: ShardHost, msg: Msg): void {
    let wire: WireCommand
    try {
      wire = decode<WireCommand>(msg.data)
    } catch {
      return
    }
    const respond = (reply: WireReply) => {
      try {
        msg.respond(encode(reply))
      } catch (error) {
        this.#logger.warn(`Replying to a forwarded command failed: ${(error as Error)?.message ?? error}`)
      }
    }
    if (!host.serving || this.#hosts.get(host.shard) !== host || !this.#leases.isServing(host.shard)) {
      return respond({ retry: 'not-owner' })
    }
    this.stats.servedLocally++
    host.gateway.send({
      type: 'statesource.command',
      aggregateType: wire.aggregateType,
      id: wire.id,
      command: wire.command,
      options: {
        commandId: wire.commandId,
        timeoutMs: wire.remainingMs,
        ...(wire.expectedVersion !== undefined ? { expectedVersion: wire.expectedVersion } : {}),
        ...(wire.metadata !== undefined ? { metadata: wire.metadata } : {}),
      },
      reply: (result) => {
        if (!(result instanceof Error)) return respond({ ok: result })
        if (this.#retryable(result, wire.expectedVersion)) return respond({ retry: result.code })
        respond({ error: toWireError(result) })
      },
    } satisfies GatewayCommandEvent)
  }
}

function settle(message: GatewayCommandEvent, result: SendResult | StatesourceError): void {
  if (message.reply) return message.reply(result)
  message.replyTo?.send(
    result instanceof Error
      ? { type: 'statesource.failure', error: result }
      : { type: 'statesource.reply', result },
  )
}

function notConfigured(aggregateType: string): StatesourceError {
  return new StatesourceError(
    'NOT_CONFIGURED',
    `This gateway has no aggregate "${aggregateType}". Register it in the cluster gateway's aggregates.`,
  )
}

function freshSnapshot(config: ClusterGatewayConfig, scope: AnyActorScope): ClusterGatewaySnapshot {
  const runtime = new ClusterGatewayRuntime(config)
  runtime.attach(scope)
  return {
    status: 'active',
    output: undefined,
    error: undefined,
    context: { runtime, stats: runtime.stats, readerPlacement: runtime.readerPlacement },
  } as ClusterGatewaySnapshot
}

/**
 * Creates the clustered gateway: an XState actor logic that is spawned like the single-process gateway
 * (`spawnChild(createClusterGatewayLogic(config), { systemId: 'gateway' })`) and takes the same commands,
 * so `createRepository(gateway, aggregate).send(...)` works from any process of the cluster.
 *
 * Each process owns a fair share of the shards (PostgreSQL advisory locks on one lease connection) and
 * runs one single-process gateway per owned shard; a command for a shard owned elsewhere travels to its
 * owner by NATS request/reply (subject `<subjectPrefix>.<shard>`), retried with backoff within the
 * command's timeout while no process answers for the shard, always under the same `commandId`.
 *
 * @example
 * ```ts
 * const system = createActor(setup({ actors: { gateway: createClusterGatewayLogic(config) } }).createMachine({
 *   entry: spawnChild('gateway', { systemId: 'gateway' }),
 * })).start()
 * const counters = createRepository(system.system.get('gateway'), counter)
 * await counters.send('c-1', { type: 'add', by: 1 })
 * ```
 *
 * @remarks The journal's expected sequence numbers are the fence: a process that was paused past its
 * lease and still holds an aggregate in memory cannot write over the new owner's events (its append fails
 * with `CONCURRENCY_CONFLICT` and the command is routed again).
 */
export function createClusterGatewayLogic(config: ClusterGatewayConfig): ClusterGatewayLogic {
  return {
    config: undefined,
    transition(snapshot, event, scope) {
      if (snapshot.status !== 'active') return snapshot
      snapshot.context.runtime.attach(scope)
      snapshot.context.runtime.handle(event)
      if (event.type === 'xstate.stop')
        return {
          ...snapshot,
          status: 'stopped',
          output: undefined,
          error: undefined,
        } as ClusterGatewaySnapshot
      return snapshot
    },
    getInitialSnapshot: (scope) => freshSnapshot(config, scope),
    start(snapshot, scope) {
      snapshot.context.runtime.attach(scope)
      snapshot.context.runtime.start()
    },
    getPersistedSnapshot(snapshot) {
      return { status: snapshot.status, context: { stats: { ...snapshot.context.stats } } } as never
    },
    restoreSnapshot: (_persisted, scope) => freshSnapshot(config, scope),
  }
}
