import { uuidSequence } from '../internal/ids.ts'
import type {
  ActorLogic,
  ActorSystem,
  AnyActorLogic,
  AnyActorRef,
  AnyActorScope,
  AnyMachineSnapshot,
  Snapshot,
} from 'xstate'

type AnyActorSystem = ActorSystem<any>

import { createActor } from 'xstate'
import { type AnyAggregate, runDecide } from '../aggregate/define-aggregate.ts'
import { foldEvents } from '../aggregate/replay.ts'
import { validateEvents } from '../aggregate/validate-events.ts'
import type { DomainEvent } from '../codec/event-codec-registry.ts'
import {
  CommandRejectedError,
  ConcurrencyError,
  isStatesourceError,
  OverloadedError,
  NotConfiguredError,
  RecoveryError,
  StatesourceError,
} from '../errors.ts'
import {
  type ActorInterceptor,
  type FunctionInterceptor,
  type InterceptorContext,
  type InterceptorResult,
  type InterceptPass,
  type InterceptReject,
  runInterceptors,
  toInterceptorResult,
} from '../extensions/interceptor.ts'
import { hashOf } from '../internal/hash.ts'
import { consoleLogger, type Logger } from '../logger.ts'
import { checkText } from '../persistence/check-text.ts'
import type { EventEnvelope, EventMetadata, NewEvent } from '../persistence/envelope.ts'
import { checkPersistenceId, DEFAULT_INPUT_LIMITS, type ResolvedInputLimits } from '../persistence/limits.ts'
import { CQRS_DEFAULTS } from '../defaults.ts'
import type { GatewayConfig } from './gateway-config.ts'
import { RecoveryPermits } from './recovery-permits.ts'

/** Per-call options of a command. */
export interface SendOptions {
  /** Reject with a conflict unless the aggregate is at this version (number of events). */
  readonly expectedVersion?: number
  /** Idempotency key: a retry with the same id returns the first result; a different payload is refused. */
  readonly commandId?: string
  /** Stored with every event of the command (correlation, causation, user, ...). */
  readonly metadata?: EventMetadata
  /**
   * Give up waiting after this long. A command still queued then is dropped and writes nothing; one that had
   * started may still complete: retry with the same commandId to learn its outcome.
   */
  readonly timeoutMs?: number
  /** Abort: a command that has not started yet is dropped and writes nothing. */
  readonly signal?: AbortSignal
}

/** The reply to a command: its persisted envelopes, the aggregate's new version and its global ordering. */
export interface SendResult {
  readonly persistenceId: string
  readonly events: readonly EventEnvelope[]
  /** The aggregate's version after the command: the sequence number of its last event. */
  readonly version: number
  /** The global ordering of the command's last event (0 when it produced none): wait for it on a projection. */
  readonly ordering: number
  /** True when this is the stored result of an earlier command with the same commandId. */
  readonly duplicate: boolean
}

/** The message the gateway receives for each command. Use a repository rather than sending it by hand. */
export interface GatewayCommandEvent {
  readonly type: 'statesource.command'
  readonly aggregateType: string
  readonly id: string
  readonly command: { readonly type: string }
  readonly options?: SendOptions
  /** Called exactly once with the result or a typed error. */
  readonly reply?: (result: SendResult | StatesourceError) => void
  /** Or: an actor that receives `{ type: 'statesource.reply', result }` / `{ type: 'statesource.failure', error }`. */
  readonly replyTo?: AnyActorRef
  /**
   * Asked just before the command starts: `true` (its caller timed out) drops it, and it writes nothing.
   * The repository sets it; a command without it runs whenever its turn comes.
   */
  readonly expired?: () => boolean
}

/**
 * Asks the gateway for an aggregate's current state, recovering it if it is not live. It queues behind the
 * aggregate's earlier commands, so the state includes their events. Use `repository.state(id)`.
 */
export interface GatewayStateRequest {
  readonly type: 'statesource.state'
  readonly aggregateType: string
  readonly id: string
  /** Called exactly once with the machine snapshot or a typed error. */
  readonly reply: (result: AnyMachineSnapshot | StatesourceError) => void
}

/** What waits in an aggregate's queue: commands, and state requests in their order. */
type Queued = GatewayCommandEvent | GatewayStateRequest

type InternalEvent =
  | {
      type: 'statesource.recovered'
      pid: string
      generation: number
      state: AnyMachineSnapshot
      seqNr: number
      /** Events folded from the journal. */
      replayed: number
      /** The sequence number of the snapshot recovery started from, if one was used. */
      snapshotSeqNr: number | undefined
      startedAt: number
    }
  | { type: 'statesource.recovery-failed'; pid: string; generation: number; error: StatesourceError }
  | {
      type: 'statesource.persisted'
      pid: string
      generation: number
      work: Work
      envelopes: readonly EventEnvelope[]
      events: readonly DomainEvent[]
      /** The state after the events, when validation computed it (invariants, or no live actor). */
      trial: AnyMachineSnapshot | undefined
    }
  | { type: 'statesource.persist-failed'; pid: string; generation: number; work: Work; error: Error }
  | { type: 'statesource.passivate'; pid: string; generation: number; reason: 'idle' | 'lru' }
  | { type: 'statesource.sweep' }

/** Every event the gateway logic handles. */
export type GatewayEvent =
  | GatewayCommandEvent
  | GatewayStateRequest
  | InternalEvent
  | { type: 'xstate.stop' }
  | { type: string; error?: unknown }

/**
 * Counters exposed on the gateway snapshot and as `handles.stats`.
 *
 * @example
 * ```ts
 * const { live, recovering, recoveries, eventsReplayed } = handles.stats
 * console.log(`${live} live, ${recovering} recovering, ${eventsReplayed / Math.max(1, recoveries)} events per recovery`)
 * ```
 */
export interface GatewayStats {
  /** Aggregates in memory and serving commands. */
  live: number
  /** Aggregates being recovered (snapshot, then journal) right now. */
  recovering: number
  /** Commands received (including refused ones). */
  commands: number
  persistedEvents: number
  rejected: number
  failed: number
  passivated: number
  restarts: number
  /** Commands refused at once because a command-queue bound was reached (`OVERLOADED`). */
  overloaded: number
  /** Recoveries that completed. */
  recoveries: number
  /** Of those, how many started from a snapshot. */
  recoveriesFromSnapshot: number
  /** Events folded from the journal by all recoveries: divided by `recoveries`, the tail a recovery replays. */
  eventsReplayed: number
}

/**
 * A pipeline event the gateway emits for each step of a command (`@statesource.command` with its `phase`,
 * `@statesource.persisted`, `@statesource.recovered`, `@statesource.listener-failed`, ...). Listen with
 * `handles.gateway.on('@statesource.command', (event) => ...)`, or `on('*', ...)` for all of them.
 */
export interface GatewayPipelineEvent {
  readonly type: `@statesource.${string}`
  readonly [key: string]: unknown
}

/**
 * The gateway actor's snapshot. `context.runtime` is internal; `toJSON()` and `getPersistedSnapshot` keep
 * only the status and the counters, so inspectors and serializers see a few bytes, not the runtime.
 */
export type GatewaySnapshot = Snapshot<undefined> & {
  context: { readonly runtime: GatewayRuntime; readonly stats: GatewayStats }
}

interface Work {
  readonly message: GatewayCommandEvent
  readonly metadata: EventMetadata
  done: boolean
}

interface DedupeEntry {
  readonly hash: string
  readonly fromSeqNr: number
  readonly toSeqNr: number
  readonly ordering: number
  /** For a command that produced no events: the aggregate's version when it was answered. */
  readonly version?: number
}

interface Entity {
  readonly pid: string
  readonly id: string
  readonly aggregate: AnyAggregate
  readonly generation: number
  phase: 'recovering' | 'ready' | 'busy'
  state: AnyMachineSnapshot | undefined
  ref: AnyActorRef | undefined
  seqNr: number
  eventsSinceSnapshot: number
  readonly queue: Queued[]
  lastUsed: number
  dedupe: Map<string, DedupeEntry> | undefined
}

interface Health {
  restarts: number[]
  failingUntil: number
}

const SNAPSHOT_FORMAT = 'statesource.snapshot.v1'

/**
 * The gateway's working state. One instance per gateway actor; it is only touched from the actor's
 * transition and from the async work each entity does one command at a time.
 */
export class GatewayRuntime {
  readonly stats: GatewayStats = {
    live: 0,
    recovering: 0,
    commands: 0,
    persistedEvents: 0,
    rejected: 0,
    failed: 0,
    passivated: 0,
    restarts: 0,
    overloaded: 0,
    recoveries: 0,
    recoveriesFromSnapshot: 0,
    eventsReplayed: 0,
  }
  readonly #entities = new Map<string, Entity>()
  readonly #health = new Map<string, Health>()
  readonly #aggregates = new Map<string, AnyAggregate>()
  readonly #permits: RecoveryPermits
  readonly #logger: Logger
  readonly #idleMs: number
  readonly #maxLive: number
  readonly #dedupeWindow: number
  readonly #limits: ResolvedInputLimits
  readonly #maxPerAggregate: number
  readonly #maxTotal: number
  /** Commands admitted and not answered yet (waiting or processing): the total the queue bound counts. */
  #held = 0
  readonly #restartLimit: { maxRestarts: number; withinMs: number }
  readonly #inFlight = new Set<Promise<unknown>>()
  // Extensions: actor-logic interceptors are asked through the mailbox; their answers resolve these.
  readonly #interceptors: readonly FunctionInterceptor[]
  readonly #interceptorActors = new Map<
    string,
    { readonly interceptor: ActorInterceptor; ref: AnyActorRef | undefined }
  >()
  readonly #pendingIntercepts = new Map<string, PendingIntercept>()
  #interceptSeq = 0
  #extensionsStarted = false
  #unbindTaps: (() => void) | undefined
  #scope: AnyActorScope | undefined
  #generation = 0
  #sweeper: ReturnType<typeof setInterval> | undefined
  #accepting = true
  /** Commands between intake and reply (counted rather than tracked as promises: this is the hot path). */
  #processing = 0
  readonly #nextCorrelationId = uuidSequence()

  constructor(readonly config: GatewayConfig) {
    for (const aggregate of config.aggregates) this.#aggregates.set(aggregate.type, aggregate)
    this.#permits = new RecoveryPermits(config.recoveryPermits ?? CQRS_DEFAULTS.recoveryPermits)
    this.#logger = config.logger ?? consoleLogger
    this.#idleMs = config.passivation?.idleTimeoutMs ?? CQRS_DEFAULTS.idleTimeoutMs
    this.#maxLive = config.passivation?.maxLive ?? CQRS_DEFAULTS.maxLive
    this.#dedupeWindow = config.dedupeWindow ?? CQRS_DEFAULTS.dedupeWindow
    this.#limits = config.journal.limits ?? DEFAULT_INPUT_LIMITS
    this.#maxPerAggregate = config.commandQueue?.maxPerAggregate ?? CQRS_DEFAULTS.commandQueue.maxPerAggregate
    this.#maxTotal = config.commandQueue?.maxTotal ?? CQRS_DEFAULTS.commandQueue.maxTotal
    this.#restartLimit = config.restartLimit ?? CQRS_DEFAULTS.restartLimit
    this.#interceptors = (config.interceptors ?? []).map((interceptor) => {
      if ('intercept' in interceptor && typeof interceptor.intercept === 'function') return interceptor
      const actor = interceptor as ActorInterceptor
      this.#interceptorActors.set(actor.name, { interceptor: actor, ref: undefined })
      return {
        name: actor.name,
        ...(actor.aggregates ? { aggregates: actor.aggregates } : {}),
        intercept: (context: InterceptorContext) => this.#askInterceptor(actor, context),
      }
    })
  }

  attach(scope: AnyActorScope): void {
    this.#scope = scope
  }

  start(): void {
    this.#startExtensions()
    if (this.#sweeper || !Number.isFinite(this.#idleMs)) return
    const every = Math.max(10, Math.min(this.#idleMs / 2, 30_000))
    this.#sweeper = setInterval(() => this.#self?.send({ type: 'statesource.sweep' }), every)
    this.#sweeper.unref?.()
  }

  get #self(): AnyActorRef | undefined {
    return this.#scope?.self
  }

  /** Whether an aggregate is live (recovered and in memory). */
  isLive(persistenceId: string): boolean {
    return this.#entities.get(persistenceId)?.phase !== undefined
  }

  /** The live machine snapshot of an aggregate, if it is in memory. */
  liveState(persistenceId: string): AnyMachineSnapshot | undefined {
    return this.#entities.get(persistenceId)?.state
  }

  /** The persistence ids of live aggregates, least recently used first. */
  liveIds(): string[] {
    return [...this.#entities.keys()]
  }

  handle(event: GatewayEvent): void {
    switch (event.type) {
      case 'statesource.command':
      case 'statesource.state':
        return this.#accept(event as Queued)
      case 'statesource.recovered':
        return this.#onRecovered(event as Extract<InternalEvent, { type: 'statesource.recovered' }>)
      case 'statesource.recovery-failed':
        return this.#onRecoveryFailed(
          event as Extract<InternalEvent, { type: 'statesource.recovery-failed' }>,
        )
      case 'statesource.persisted':
        return this.#onPersisted(event as Extract<InternalEvent, { type: 'statesource.persisted' }>)
      case 'statesource.persist-failed':
        return this.#onPersistFailed(event as Extract<InternalEvent, { type: 'statesource.persist-failed' }>)
      case 'statesource.passivate': {
        const e = event as Extract<InternalEvent, { type: 'statesource.passivate' }>
        const entity = this.#entities.get(e.pid)
        if (entity && entity.generation === e.generation) this.#passivate(entity, e.reason)
        return
      }
      case 'statesource.sweep':
        return this.#sweep()
      case 'statesource.intercept.pass':
      case 'statesource.intercept.reject':
        return this.#onInterceptAnswer(event as unknown as InterceptPass | InterceptReject)
      case 'xstate.stop':
        return this.stopNow()
      default:
        if (event.type.startsWith('xstate.error.actor.')) {
          if (
            this.#onExtensionError(
              event.type.slice('xstate.error.actor.'.length),
              (event as { error?: unknown }).error,
            )
          ) {
            return
          }
          return this.#onChildError(
            event.type.slice('xstate.error.actor.'.length),
            (event as { error?: unknown }).error,
          )
        }
    }
  }

  /** Stops accepting commands, waits for in-flight work, then stops every child. */
  async drain(): Promise<void> {
    this.#accepting = false
    while (
      this.#inFlight.size > 0 ||
      this.#processing > 0 ||
      [...this.#entities.values()].some((e) => e.phase !== 'ready' || e.queue.length)
    ) {
      await Promise.allSettled([...this.#inFlight])
      await new Promise((r) => setImmediate(r))
    }
  }

  /** Immediate stop: refuse what is queued, stop all children. In-flight appends still complete and reply. */
  stopNow(): void {
    this.#accepting = false
    if (this.#sweeper) clearInterval(this.#sweeper)
    this.#sweeper = undefined
    this.#stopExtensions()
    for (const entity of this.#entities.values()) {
      for (const message of entity.queue.splice(0)) {
        this.#reply(message, gatewayStopped())
      }
      this.#stopChild(entity)
    }
    this.#entities.clear()
    this.stats.live = 0
  }

  // ---- command intake -------------------------------------------------------------------------

  #accept(queued: Queued): void {
    let message = queued
    if (message.type === 'statesource.command') {
      this.stats.commands++
      if (this.#inspecting && message.options?.metadata?.correlationId === undefined) {
        // Every command gets a correlation id, so inspection and the stored events can be joined up. When
        // nobody inspects, #process adds it to the metadata it builds anyway, saving a copy of the message.
        const options = message.options ?? {}
        message = {
          ...message,
          options: {
            ...options,
            metadata: { ...options.metadata, correlationId: this.#nextCorrelationId() },
          },
        }
      }
    }
    if (!this.#accepting) return this.#deliver(message, gatewayStopped())
    const problem = this.#validateMessage(message)
    if (problem) return this.#deliver(message, problem)
    const aggregate = this.#aggregates.get(message.aggregateType)!
    const pid = aggregate.persistenceId(message.id)
    try {
      // The journal would refuse it after recovery and decide: refuse it before anything is queued.
      checkPersistenceId(pid, this.#limits)
    } catch (error) {
      return this.#deliver(message, error as StatesourceError)
    }
    const health = this.#health.get(pid)
    if (health && health.failingUntil > Date.now()) {
      return this.#deliver(
        message,
        new StatesourceError(
          'AGGREGATE_FAILING',
          `Aggregate "${pid}" failed ${this.#restartLimit.maxRestarts + 1} times within ${this.#restartLimit.withinMs} ms (restartLimit.maxRestarts is ${this.#restartLimit.maxRestarts}) and is refused until ${new Date(health.failingUntil).toISOString()}. Check the logs for its errors (a throwing action in its machine?).`,
        ),
      )
    }
    if (message.type === 'statesource.command' && this.#inspecting)
      this.#inspect('@statesource.command', {
        persistenceId: pid,
        command: message.command,
        phase: 'received',
        correlationId: message.options?.metadata?.correlationId,
        commandId: message.options?.commandId,
      })
    let entity = this.#entities.get(pid)
    const what = message.type === 'statesource.command' ? message.command.type : 'statesource.state'
    // Back-pressure: refuse at once rather than queue without bound.
    if (entity && entity.queue.length >= this.#maxPerAggregate) {
      this.stats.overloaded++
      return this.#deliver(message, new OverloadedError(pid, what, 'maxPerAggregate', this.#maxPerAggregate))
    }
    if (this.#held >= this.#maxTotal) {
      this.stats.overloaded++
      return this.#deliver(message, new OverloadedError(pid, what, 'maxTotal', this.#maxTotal))
    }
    this.#held++
    if (entity) {
      // Move to the most recently used end.
      this.#entities.delete(pid)
      this.#entities.set(pid, entity)
      entity.lastUsed = Date.now()
      entity.queue.push(message)
      if (entity.phase === 'ready') this.#pump(entity)
      return
    }
    entity = this.#createEntity(aggregate, message.id, pid)
    entity.queue.push(message)
    this.#evictOverflow()
  }

  #validateMessage(message: Queued): StatesourceError | undefined {
    if (!this.#aggregates.has(message.aggregateType)) {
      return new NotConfiguredError(
        'aggregate',
        `This gateway has no aggregate "${message.aggregateType}". Register it with the builder's withAggregate().`,
      )
    }
    if (typeof message.id !== 'string' || message.id.length === 0) {
      return new StatesourceError(
        'INVALID_INPUT',
        `The aggregate id must be a non-empty string, got ${JSON.stringify(message.id)}.`,
      )
    }
    try {
      checkText(message.id, 'aggregate id')
    } catch (error) {
      return error as StatesourceError
    }
    if (message.type === 'statesource.state') return undefined
    const command = message.command as unknown
    if (
      typeof command !== 'object' ||
      command === null ||
      typeof (command as { type?: unknown }).type !== 'string'
    ) {
      return new StatesourceError(
        'INVALID_INPUT',
        `A command must be an object with a string "type", got ${safeDescribe(command)}.`,
      )
    }
    const options = message.options
    if (
      options?.expectedVersion !== undefined &&
      !(Number.isInteger(options.expectedVersion) && options.expectedVersion >= 0)
    ) {
      return new StatesourceError(
        'INVALID_INPUT',
        `expectedVersion must be a non-negative integer, got ${options.expectedVersion}.`,
      )
    }
    if (
      options?.commandId !== undefined &&
      (typeof options.commandId !== 'string' || options.commandId.length === 0)
    ) {
      return new StatesourceError(
        'INVALID_INPUT',
        `commandId must be a non-empty string, got ${JSON.stringify(options.commandId)}.`,
      )
    }
    return undefined
  }

  #createEntity(aggregate: AnyAggregate, id: string, pid: string): Entity {
    const entity: Entity = {
      pid,
      id,
      aggregate,
      generation: ++this.#generation,
      phase: 'recovering',
      state: undefined,
      ref: undefined,
      seqNr: 0,
      eventsSinceSnapshot: 0,
      queue: [],
      lastUsed: Date.now(),
      dedupe: undefined,
    }
    this.#entities.set(pid, entity)
    this.stats.recovering++
    this.#track(this.#recover(entity))
    return entity
  }

  // ---- recovery -------------------------------------------------------------------------------

  async #recover(entity: Entity): Promise<void> {
    const release = await this.#permits.acquire()
    try {
      const startedAt = Date.now()
      const { aggregate, pid } = entity
      let state = aggregate.runtime.initial()
      let fromSeqNr = 1
      let snapshotSeqNr: number | undefined
      let dedupe: [string, DedupeEntry][] = []
      /** A snapshot of another machine version: not used, unless the events it covers were deleted. */
      let olderVersion:
        | { seqNr: number; machine: unknown; version: string; dedupe: [string, DedupeEntry][] }
        | undefined
      const store = this.config.snapshotStore
      if (store) {
        let stored: Awaited<ReturnType<typeof store.load>>
        try {
          stored = await store.load(pid)
        } catch (error) {
          this.#logger.warn(`Loading the snapshot of "${pid}" failed; recovering from the journal alone.`, {
            error,
          })
        }
        const body = stored?.state as
          | { format?: string; machine?: unknown; dedupe?: [string, DedupeEntry][] }
          | undefined
        if (stored && stored.machineVersion !== aggregate.version && body?.format === SNAPSHOT_FORMAT) {
          olderVersion = {
            seqNr: stored.seqNr,
            machine: body.machine,
            version: stored.machineVersion,
            dedupe: body.dedupe ?? [],
          }
        }
        if (stored && stored.machineVersion === aggregate.version && body?.format === SNAPSHOT_FORMAT) {
          try {
            state = aggregate.runtime.restore(body.machine)
            fromSeqNr = stored.seqNr + 1
            snapshotSeqNr = stored.seqNr
            dedupe = body.dedupe ?? []
          } catch (error) {
            this.#logger.warn(`The snapshot of "${pid}" could not be restored; replaying the journal.`, {
              error,
            })
            state = aggregate.runtime.initial()
          }
        }
      }
      // One consistent read: with two reads, another process appending in between would make its events
      // look deleted (counted by the second read, missing from the first).
      const read = await this.config.journal.readForRecovery(pid, { fromSeqNr })
      const highest = read.highestSeqNr
      let envelopes = read.events
      // Deleted events (deleteTo) that no usable snapshot covers cannot be folded: serving the aggregate
      // from a partial history would be wrong, so recovery fails instead of starting from a gap. One
      // exception: the snapshot the deletion relied on, written by an older machine version. Refolding is
      // impossible (its events are gone), so it is the aggregate's history and is restored with the new machine.
      let first = envelopes[0]
      // Events 1..gapTo are deleted; looked up only when an older version's snapshot could cover them.
      let gapTo = 0
      if (olderVersion && fromSeqNr === 1 && first?.seqNr !== 1) {
        gapTo = first ? first.seqNr - 1 : highest
      }
      if (olderVersion && gapTo >= 1 && olderVersion.seqNr >= gapTo) {
        try {
          // Another version's chart may lack the snapshot's states; restoring would not notice, resolving does.
          const persisted = olderVersion.machine as { value?: unknown; context?: unknown }
          aggregate.machine.resolveState({
            value: persisted.value as never,
            context: persisted.context as never,
          })
          state = aggregate.runtime.restore(olderVersion.machine)
        } catch (error) {
          throw new RecoveryError(
            pid,
            `Events 1..${gapTo} of "${pid}" were deleted and the snapshot that covers them was written by machine version "${olderVersion.version}", which version "${aggregate.version}" cannot restore: ${(error as Error)?.message ?? error}. Keep the states and context the snapshot names in the new machine, or restore the deleted events.`,
            { cause: error },
          )
        }
        this.#logger.warn(
          `Recovered "${pid}" from its snapshot of machine version "${olderVersion.version}" at event ${olderVersion.seqNr} (the current version is "${aggregate.version}"): the events it covers were deleted, so it cannot be refolded.`,
          { persistenceId: pid },
        )
        fromSeqNr = olderVersion.seqNr + 1
        snapshotSeqNr = olderVersion.seqNr
        dedupe = olderVersion.dedupe
        envelopes = envelopes.filter((envelope) => envelope.seqNr >= fromSeqNr)
        first = envelopes[0]
      }
      if (first && first.seqNr !== fromSeqNr) throw deletedHistory(pid, fromSeqNr, first.seqNr - 1)
      if (!first) {
        if (highest > fromSeqNr - 1) throw deletedHistory(pid, fromSeqNr, highest)
        if (highest < fromSeqNr - 1) {
          throw new RecoveryError(
            pid,
            `The snapshot of "${pid}" is at event ${fromSeqNr - 1} but its journal ends at ${highest}: the snapshot belongs to another history. Delete the snapshot (or restore the matching journal) and retry.`,
          )
        }
      }
      state = foldEvents(aggregate, this.config.codecs, state, envelopes)
      const seqNr = envelopes.at(-1)?.seqNr ?? fromSeqNr - 1
      const dedupeMap = new Map(dedupe)
      for (const envelope of envelopes) this.#rememberFromEnvelope(dedupeMap, envelope)
      this.#trimDedupe(dedupeMap)
      entity.dedupe = dedupeMap.size > 0 ? dedupeMap : undefined
      entity.eventsSinceSnapshot = envelopes.length
      this.#self?.send({
        type: 'statesource.recovered',
        pid,
        generation: entity.generation,
        state,
        seqNr,
        replayed: envelopes.length,
        snapshotSeqNr,
        startedAt,
      })
    } catch (error) {
      const failure = isStatesourceError(error)
        ? error
        : new RecoveryError(
            entity.pid,
            `Recovering "${entity.pid}" failed: ${(error as Error)?.message ?? error}`,
            {
              cause: error,
            },
          )
      this.#self?.send({
        type: 'statesource.recovery-failed',
        pid: entity.pid,
        generation: entity.generation,
        error: failure,
      })
    } finally {
      release()
    }
  }

  #rememberFromEnvelope(map: Map<string, DedupeEntry>, envelope: EventEnvelope): void {
    const commandId = envelope.metadata.commandId
    const hash = envelope.metadata.commandHash
    if (typeof commandId !== 'string' || typeof hash !== 'string') return
    const prev = map.get(commandId)
    map.delete(commandId)
    map.set(commandId, {
      hash,
      fromSeqNr: prev && prev.toSeqNr === envelope.seqNr - 1 ? prev.fromSeqNr : envelope.seqNr,
      toSeqNr: envelope.seqNr,
      ordering: envelope.ordering,
    })
  }

  #trimDedupe(map: Map<string, DedupeEntry>): void {
    while (map.size > this.#dedupeWindow) map.delete(map.keys().next().value as string)
  }

  #onRecovered(event: Extract<InternalEvent, { type: 'statesource.recovered' }>): void {
    const entity = this.#entities.get(event.pid)
    if (!entity || entity.generation !== event.generation) return
    this.stats.recovering--
    this.stats.live++
    this.stats.recoveries++
    this.stats.eventsReplayed += event.replayed
    if (event.snapshotSeqNr !== undefined) this.stats.recoveriesFromSnapshot++
    entity.seqNr = event.seqNr
    entity.state = event.state
    entity.phase = 'ready'
    const scope = this.#scope
    if (scope) {
      const child = createActor(entity.aggregate.machine, {
        parent: scope.self,
        id: entity.pid,
        systemId: `statesource:${entity.pid}`,
        snapshot: entity.aggregate.runtime.persist(event.state) as never,
      })
      entity.ref = child
      scope.defer(() => {
        if (entity.ref === child) child.start()
      })
    }
    this.#inspect('@statesource.recovered', {
      persistenceId: entity.pid,
      seqNr: entity.seqNr,
      eventsReplayed: event.replayed,
      snapshotSeqNr: event.snapshotSeqNr,
      durationMs: Date.now() - event.startedAt,
    })
    this.#pump(entity)
  }

  #onRecoveryFailed(event: Extract<InternalEvent, { type: 'statesource.recovery-failed' }>): void {
    const entity = this.#entities.get(event.pid)
    if (!entity || entity.generation !== event.generation) return
    this.stats.recovering--
    this.#entities.delete(entity.pid)
    this.#logger.error(event.error.message, { persistenceId: entity.pid, error: event.error })
    this.#inspect('@statesource.recovery-failed', { persistenceId: entity.pid, error: event.error.message })
    for (const message of entity.queue.splice(0)) this.#reply(message, event.error)
  }

  // ---- command processing ---------------------------------------------------------------------

  #pump(entity: Entity): void {
    while (entity.phase === 'ready' && entity.queue.length > 0) {
      const message = entity.queue.shift()!
      if (message.type === 'statesource.state') {
        this.#reply(message, entity.state!)
        continue
      }
      if (message.options?.signal?.aborted) {
        this.#reply(message, aborted(entity.pid, message.command.type))
        continue
      }
      if (message.expired?.()) {
        this.#reply(message, droppedOnTimeout(entity.pid, message.command.type))
        continue
      }
      entity.phase = 'busy'
      this.#processing++ // #process counts it down when it ends
      void this.#process(entity, message)
    }
  }

  async #process(entity: Entity, message: GatewayCommandEvent): Promise<void> {
    const { aggregate, pid } = entity
    const options = message.options ?? {}
    const command = message.command
    let metadata: EventMetadata = {}
    try {
      metadata = options.metadata ? { ...options.metadata } : {}
      metadata.correlationId ??= this.#nextCorrelationId()
      if (this.config.writerId !== undefined) metadata.writerId = this.config.writerId
      // Idempotency: the same command id returns the first result; another payload under it is refused.
      let hash: string | undefined
      if (options.commandId !== undefined) {
        hash = commandHash(command, pid)
        const seen = entity.dedupe?.get(options.commandId)
        if (seen) {
          if (seen.hash !== hash) {
            throw new StatesourceError(
              'IDEMPOTENCY_CONFLICT',
              `Command id "${options.commandId}" was already used on "${pid}" for a different command payload. Use a new command id for a new command.`,
            )
          }
          const events =
            seen.toSeqNr >= seen.fromSeqNr
              ? await this.config.journal.replay(pid, { fromSeqNr: seen.fromSeqNr, toSeqNr: seen.toSeqNr })
              : []
          return this.#finish(entity, message, {
            persistenceId: pid,
            events,
            // The first result's version: where its events ended, not where the aggregate is now.
            version: seen.toSeqNr >= seen.fromSeqNr ? seen.toSeqNr : (seen.version ?? entity.seqNr),
            ordering: seen.ordering,
            duplicate: true,
          })
        }
        metadata = { ...metadata, commandId: options.commandId, commandHash: hash }
      }
      if (options.expectedVersion !== undefined && options.expectedVersion !== entity.seqNr) {
        throw new ConcurrencyError(pid, options.expectedVersion, entity.seqNr)
      }
      const state = entity.state!
      const interceptors = this.#interceptors
      if (interceptors.length > 0) {
        metadata = await runInterceptors(interceptors, {
          command,
          metadata,
          aggregateType: aggregate.type,
          id: entity.id,
          persistenceId: pid,
          state,
          version: entity.seqNr,
        })
        // Interceptors may take long (an actor, a remote check): an abort meanwhile still prevents the write.
        if (options.signal?.aborted) throw aborted(pid, command.type, 'while its interceptors ran')
        if (this.#inspecting)
          this.#inspect('@statesource.command', {
            persistenceId: pid,
            command,
            phase: 'intercepted',
            correlationId: metadata.correlationId,
            commandId: options.commandId,
          })
      }
      const events = runDecide(aggregate, command, state, {
        id: entity.id,
        persistenceId: pid,
        version: entity.seqNr,
        metadata,
      })
      if (events.length === 0) {
        // Nothing goes to the journal, so this id is remembered in memory only, while the aggregate is live.
        if (options.commandId !== undefined && hash !== undefined) {
          entity.dedupe ??= new Map()
          entity.dedupe.set(options.commandId, {
            hash,
            fromSeqNr: 1,
            toSeqNr: 0,
            ordering: 0,
            version: entity.seqNr,
          })
          this.#trimDedupe(entity.dedupe)
        }
        return this.#finish(entity, message, {
          persistenceId: pid,
          events: [],
          version: entity.seqNr,
          ordering: 0,
          duplicate: false,
        })
      }
      // With a live actor to apply to, the final state is computed there after the commit.
      const trial = validateEvents(aggregate, pid, command.type, state, events, entity.ref === undefined)
      const newEvents: NewEvent[] = events.map((event) => {
        const { type, ...payload } = event as { type: string; [k: string]: unknown }
        return {
          type,
          version: aggregate.eventVersion(type),
          payload,
          tags: aggregate.tagsFor(event),
          metadata,
        }
      })
      // The last point an abort is honoured: once the events are handed to the journal they may be written,
      // and a retry with the same commandId gets the outcome.
      if (options.signal?.aborted) throw aborted(pid, command.type, 'before its events were written')
      const work: Work = { message, metadata, done: false }
      let outcome: Awaited<ReturnType<typeof this.config.journal.append>>[number] | undefined
      try {
        ;[outcome] = await this.config.journal.append([
          { persistenceId: pid, expectedSeqNr: entity.seqNr, events: newEvents },
        ])
      } catch (error) {
        this.#self?.send({
          type: 'statesource.persist-failed',
          pid,
          generation: entity.generation,
          work,
          error: error as Error,
        })
        // The gateway stopped meanwhile and will not handle that event: the caller still gets its answer.
        if (!work.done) this.#reply(message, toStatesourceError(error, pid))
        return
      }
      if (!outcome)
        throw new StatesourceError('JOURNAL_FAILURE', `The journal returned no outcome for "${pid}".`)
      if (!outcome.ok) {
        this.#self?.send({
          type: 'statesource.persist-failed',
          pid,
          generation: entity.generation,
          work,
          error: outcome.error,
        })
        if (!work.done) this.#reply(message, toStatesourceError(outcome.error, pid))
        return
      }
      this.#self?.send({
        type: 'statesource.persisted',
        pid,
        generation: entity.generation,
        work,
        envelopes: outcome.envelopes,
        events: events as DomainEvent[],
        trial,
      })
      if (!work.done) {
        // The gateway stopped (or the entity was replaced) before it could apply: the events are durable.
        this.#reply(message, {
          persistenceId: pid,
          events: outcome.envelopes,
          version: outcome.envelopes.at(-1)!.seqNr,
          ordering: outcome.envelopes.at(-1)!.ordering,
          duplicate: false,
        })
      }
    } catch (error) {
      const failure = toStatesourceError(error, pid)
      if (failure.code === 'COMMAND_REJECTED' || failure.code === 'UNKNOWN_COMMAND') this.stats.rejected++
      else this.stats.failed++
      if (this.#inspecting)
        this.#inspect('@statesource.command', {
          persistenceId: pid,
          command,
          phase: failure.code === 'COMMAND_REJECTED' ? 'rejected' : 'failed',
          error: failure.message,
          correlationId: metadata.correlationId,
          commandId: options.commandId,
          ...(failure instanceof CommandRejectedError
            ? { source: failure.source, rejectedBy: failure.rejectedBy }
            : {}),
        })
      this.#finish(entity, message, failure, metadata)
    } finally {
      this.#processing--
    }
  }

  #finish(
    entity: Entity,
    message: GatewayCommandEvent,
    result: SendResult | StatesourceError,
    metadata?: EventMetadata,
  ): void {
    this.#reply(message, result, metadata)
    if (this.#entities.get(entity.pid) === entity && entity.phase === 'busy') {
      entity.phase = 'ready'
      entity.lastUsed = Date.now()
      this.#pump(entity)
      this.#evictOverflow()
    }
  }

  #onPersisted(event: Extract<InternalEvent, { type: 'statesource.persisted' }>): void {
    const { work, envelopes, events } = event
    const entity = this.#entities.get(event.pid)
    const last = envelopes.at(-1)!
    const result: SendResult = {
      persistenceId: event.pid,
      events: envelopes,
      version: last.seqNr,
      ordering: last.ordering,
      duplicate: false,
    }
    work.done = true
    this.stats.persistedEvents += envelopes.length
    if (!entity || entity.generation !== event.generation) {
      // The entity was replaced meanwhile, but these events are durable: hooks still see them.
      const aggregate = this.#aggregates.get(work.message.aggregateType)
      if (aggregate)
        this.#afterCommit(aggregate.type, work.message.id, event.pid, work, envelopes, events, result)
      else this.#reply(work.message, result)
      return
    }
    // Apply to the live actor: custom actions run here, once, and inspection sees the domain events.
    entity.seqNr = last.seqNr
    entity.eventsSinceSnapshot += envelopes.length
    let childFailed: unknown
    const ref = entity.ref
    const trial = event.trial
    if (ref) {
      // Sent as the gateway, so inspectors draw gateway -> aggregate arrows (`sourceId`).
      for (const domainEvent of events) this.#sendAsGateway(ref, domainEvent)
      const snap = ref.getSnapshot() as AnyMachineSnapshot
      if (snap.status === 'error') childFailed = snap.error
      else if (snap.status === 'active' || snap.status === 'done') entity.state = snap
      else entity.state = trial ?? foldLive(entity, events)
    } else {
      entity.state = trial ?? foldLive(entity, events)
    }
    const live = entity.state
    if (
      childFailed === undefined &&
      trial &&
      live &&
      live !== trial &&
      entity.ref &&
      !sameStateValue(live.value, trial.value)
    ) {
      // Live and trial states must agree; if they do not, a machine is non-deterministic.
      childFailed = new StatesourceError(
        'RECOVERY_FAILED',
        `The live actor of "${entity.pid}" reached ${JSON.stringify(live?.value)} but the replayed chart reached ${JSON.stringify(trial.value)}: the machine is not deterministic.`,
      )
    }
    const metadata = work.metadata
    if (metadata.commandId !== undefined && metadata.commandHash !== undefined) {
      entity.dedupe ??= new Map()
      entity.dedupe.set(metadata.commandId, {
        hash: metadata.commandHash,
        fromSeqNr: envelopes[0]!.seqNr,
        toSeqNr: last.seqNr,
        ordering: last.ordering,
      })
      this.#trimDedupe(entity.dedupe)
    }
    this.#afterCommit(entity.aggregate.type, entity.id, entity.pid, work, envelopes, events, result)
    if (childFailed !== undefined) {
      this.#childFailed(entity, childFailed)
      return
    }
    this.#maybeSnapshot(entity)
    entity.phase = 'ready'
    entity.lastUsed = Date.now()
    this.#pump(entity)
    this.#evictOverflow()
  }

  /** After commit: inspection, listeners (in order, per event), the reply, then the async taps. */
  #afterCommit(
    aggregateType: string,
    id: string,
    pid: string,
    work: Work,
    envelopes: readonly EventEnvelope[],
    events: readonly DomainEvent[],
    result: SendResult,
  ): void {
    const metadata = work.metadata
    const last = envelopes.at(-1)!
    if (this.#inspecting) {
      const inspected = {
        persistenceId: pid,
        seqNr: last.seqNr,
        ordering: last.ordering,
        events: events.map((e) => e.type),
        correlationId: metadata.correlationId,
        commandId: metadata.commandId,
      }
      this.#inspect('@statesource.persisted', inspected)
      this.#inspect('@statesource.command', {
        ...inspected,
        command: work.message.command,
        phase: 'persisted',
      })
    }
    this.#runListeners(aggregateType, pid, events, envelopes, metadata.correlationId)
    this.#reply(work.message, result)
    const taps = this.config.taps
    if (taps) {
      taps.publishEvents(envelopes, events)
      if (taps.hasCommandTaps) {
        taps.publishCommand({
          aggregateType,
          id,
          persistenceId: pid,
          command: work.message.command,
          metadata,
          outcome: 'persisted',
        })
      }
    }
  }

  #runListeners(
    aggregateType: string,
    pid: string,
    events: readonly DomainEvent[],
    envelopes: readonly EventEnvelope[],
    correlationId: string | undefined,
  ): void {
    const listeners = this.config.listeners
    if (!listeners || listeners.length === 0) return
    for (let i = 0; i < events.length; i++) {
      const envelope = envelopes[i]!
      for (const listener of listeners) {
        if (listener.aggregates && !listener.aggregates.includes(aggregateType)) continue
        const report = (error: unknown) => {
          this.#logger.warn(
            `Listener "${listener.name}" threw on event ${envelope.seqNr} of "${pid}": ${(error as Error)?.message ?? error}. The command still succeeded: its events are durable.`,
            { listener: listener.name, persistenceId: pid, seqNr: envelope.seqNr, error },
          )
          this.#inspect('@statesource.listener-failed', {
            listener: listener.name,
            persistenceId: pid,
            seqNr: envelope.seqNr,
            error: (error as Error)?.message ?? String(error),
            correlationId,
          })
        }
        try {
          const returned = listener.onEvent(events[i]!, envelope) as unknown
          // Not awaited (listeners are synchronous), but a rejection must not become an unhandled one.
          if (returned instanceof Promise) returned.catch(report)
        } catch (error) {
          report(error)
        }
      }
    }
  }

  #onPersistFailed(event: Extract<InternalEvent, { type: 'statesource.persist-failed' }>): void {
    const entity = this.#entities.get(event.pid)
    const failure = toStatesourceError(event.error, event.pid)
    event.work.done = true
    this.stats.failed++
    this.#inspect('@statesource.command', {
      persistenceId: event.pid,
      command: event.work.message.command,
      phase: 'failed',
      error: failure.message,
      correlationId: event.work.metadata.correlationId,
    })
    if (!entity || entity.generation !== event.generation) {
      this.#reply(event.work.message, failure, event.work.metadata)
      return
    }
    if (failure.code === 'SERIALIZATION_FAILED' || failure.code === 'INVALID_INPUT') {
      // Nothing was written and memory was not touched: the entity stays valid.
      this.#finish(entity, event.work.message, failure, event.work.metadata)
      return
    }
    // A conflict, a journal failure or an unknown outcome: memory may be behind the journal. Drop and
    // recover afresh, so that a retry with the same commandId finds the first attempt if it committed.
    this.#reply(event.work.message, failure, event.work.metadata)
    this.#replaceEntity(entity)
  }

  /** Drops an entity and re-queues its waiting commands on a freshly recovered one. */
  #replaceEntity(entity: Entity): void {
    const waiting = entity.queue.splice(0)
    this.#stopChild(entity)
    this.#entities.delete(entity.pid)
    if (entity.phase !== 'recovering') this.stats.live--
    if (waiting.length > 0 && this.#accepting) {
      const fresh = this.#createEntity(entity.aggregate, entity.id, entity.pid)
      fresh.queue.push(...waiting)
    } else {
      // Stopping: nothing will process them, so answer them rather than leave their callers waiting.
      for (const message of waiting) this.#reply(message, gatewayStopped())
    }
  }

  #onChildError(childId: string, error: unknown): void {
    const entity = this.#entities.get(childId)
    if (!entity?.ref || entity.ref.id !== childId) return
    if (entity.phase === 'busy') return // handled when its persisted event is applied
    this.#childFailed(entity, error)
  }

  #childFailed(entity: Entity, error: unknown): void {
    this.stats.restarts++
    const message = (error as Error)?.message ?? String(error)
    this.#logger.error(
      `The live actor of "${entity.pid}" failed: ${message}. Its events are durable; it will be recovered from the journal on its next command.`,
      { persistenceId: entity.pid, error },
    )
    this.#inspect('@statesource.aggregate-failed', { persistenceId: entity.pid, error: message })
    const now = Date.now()
    const health = this.#health.get(entity.pid) ?? { restarts: [], failingUntil: 0 }
    health.restarts = health.restarts.filter((t) => now - t < this.#restartLimit.withinMs)
    health.restarts.push(now)
    if (health.restarts.length > this.#restartLimit.maxRestarts) {
      health.failingUntil = now + this.#restartLimit.withinMs
      health.restarts = []
    }
    this.#health.set(entity.pid, health)
    if (health.failingUntil > now) {
      const waiting = entity.queue.splice(0)
      this.#stopChild(entity)
      this.#entities.delete(entity.pid)
      this.stats.live--
      // Admitted again by #accept (or refused there as failing): no longer held as they were.
      this.#held -= waiting.length
      for (const m of waiting) this.#accept(m)
      return
    }
    this.#replaceEntity(entity)
  }

  // ---- snapshots and passivation --------------------------------------------------------------

  #maybeSnapshot(entity: Entity, force = false): void {
    const store = this.config.snapshotStore
    const policy = this.config.snapshotPolicy ?? 'manual'
    if (!store || !entity.state || entity.eventsSinceSnapshot === 0) return
    if (!force && (policy === 'manual' || entity.eventsSinceSnapshot < policy.every)) return
    entity.eventsSinceSnapshot = 0
    const snapshot = {
      persistenceId: entity.pid,
      seqNr: entity.seqNr,
      state: {
        format: SNAPSHOT_FORMAT,
        machine: entity.aggregate.runtime.persist(entity.state),
        // Only ids whose events the journal holds: the in-memory note of a command that wrote nothing is
        // not made durable by a snapshot (repository.md states what is remembered, and for how long).
        dedupe: entity.dedupe ? [...entity.dedupe].filter(([, seen]) => seen.toSeqNr >= seen.fromSeqNr) : [],
      },
      machineVersion: entity.aggregate.version,
      timestamp: Date.now(),
    }
    this.#track(
      store
        .save(snapshot, { keepLast: this.config.snapshotKeepLast ?? CQRS_DEFAULTS.snapshotKeepLast })
        .catch((error) => {
          this.#logger.warn(
            `Saving a snapshot of "${entity.pid}" at ${snapshot.seqNr} failed: ${(error as Error)?.message ?? error}`,
            {
              persistenceId: entity.pid,
              error,
            },
          )
        }),
    )
  }

  #passivate(entity: Entity, reason: 'idle' | 'lru'): void {
    if (entity.phase !== 'ready' || entity.queue.length > 0) return
    this.#maybeSnapshot(entity, true)
    this.#stopChild(entity)
    this.#entities.delete(entity.pid)
    this.stats.live--
    this.stats.passivated++
    this.#inspect('@statesource.passivated', { persistenceId: entity.pid, reason })
  }

  #sweep(): void {
    const cutoff = Date.now() - this.#idleMs
    for (const entity of [...this.#entities.values()]) {
      if (entity.lastUsed > cutoff) break // insertion order is least recently used first
      this.#passivate(entity, 'idle')
    }
  }

  /**
   * Passivates least recently used idle aggregates until at most `maxLive` are in memory. Runs when a new
   * aggregate is created and whenever a command is answered: aggregates that are recovering or have commands
   * queued cannot be passivated, so a burst of new ids exceeds the bound by at most the number of aggregates
   * busy at once, and each goes as soon as its last queued command is answered.
   */
  #evictOverflow(): void {
    if (this.#entities.size <= this.#maxLive) return
    for (const entity of [...this.#entities.values()]) {
      if (this.#entities.size <= this.#maxLive) break
      this.#passivate(entity, 'lru')
    }
  }

  /** Snapshots an aggregate now (if a snapshot store is configured and it has unsnapshotted events). */
  snapshotNow(persistenceId: string): boolean {
    const entity = this.#entities.get(persistenceId)
    if (entity?.phase !== 'ready') return false
    this.#maybeSnapshot(entity, true)
    return true
  }

  /** Passivates an idle aggregate now; false if it is not live or is busy. */
  passivateNow(persistenceId: string): boolean {
    const entity = this.#entities.get(persistenceId)
    if (entity?.phase !== 'ready' || entity.queue.length > 0) return false
    this.#passivate(entity, 'idle')
    return true
  }

  // ---- extensions: actor interceptors and taps ---------------------------------------------------

  #startExtensions(): void {
    const scope = this.#scope
    if (this.#extensionsStarted || !scope) return
    this.#extensionsStarted = true
    for (const entry of this.#interceptorActors.values())
      entry.ref = this.#spawnExtension(entry.interceptor.logic, interceptorActorId(entry.interceptor.name))
    this.#unbindTaps = this.config.taps?.bind({
      spawn: (logic, id) => this.#spawnExtension(logic, id),
      stop: (ref) => this.#stopExtension(ref),
      inspect: (type, data) => this.#inspect(type, data),
    })
  }

  #spawnExtension(logic: AnyActorLogic, id: string): AnyActorRef {
    const scope = this.#scope!
    const child = createActor(logic, { parent: scope.self, id })
    child.start()
    return child
  }

  #stopExtension(ref: AnyActorRef): void {
    try {
      if (this.#scope) this.#scope.stopChild(ref)
      else ref.stop()
    } catch {
      // Already stopped, or stopped with its parent: nothing left to do.
    }
  }

  #stopExtensions(): void {
    for (const entry of this.#interceptorActors.values()) {
      const ref = entry.ref
      entry.ref = undefined
      if (ref) this.#stopExtension(ref)
    }
    for (const [requestId, pending] of this.#pendingIntercepts) {
      this.#pendingIntercepts.delete(requestId)
      clearTimeout(pending.timer)
      pending.fail(new Error('the gateway stopped before it answered'))
    }
    this.#unbindTaps?.()
    this.#unbindTaps = undefined
  }

  #askInterceptor(interceptor: ActorInterceptor, context: InterceptorContext): Promise<InterceptorResult> {
    const entry = this.#interceptorActors.get(interceptor.name)
    const ref = entry?.ref
    const self = this.#self
    if (!ref || !self) {
      return Promise.reject(
        new Error('its actor is not running (actor interceptors need the gateway to be started)'),
      )
    }
    const timeoutMs = interceptor.timeoutMs ?? CQRS_DEFAULTS.interceptorTimeoutMs
    const requestId = `${interceptor.name}#${++this.#interceptSeq}`
    return new Promise<InterceptorResult>((resolve, fail) => {
      const timer = setTimeout(() => {
        this.#pendingIntercepts.delete(requestId)
        fail(new Error(`its actor did not answer within ${timeoutMs} ms (interceptor timeoutMs)`))
      }, timeoutMs)
      this.#pendingIntercepts.set(requestId, { actorId: ref.id, resolve, fail, timer })
      ref.send({ type: 'statesource.intercept', requestId, context, replyTo: self })
    })
  }

  #onInterceptAnswer(answer: InterceptPass | InterceptReject): void {
    const pending =
      typeof answer.requestId === 'string' ? this.#pendingIntercepts.get(answer.requestId) : undefined
    if (!pending) return // late (timed out) or unknown: nothing waits for it
    this.#pendingIntercepts.delete(answer.requestId)
    clearTimeout(pending.timer)
    pending.resolve(toInterceptorResult(answer))
  }

  /** An extension actor failed: its waiting commands are rejected and it is started afresh. */
  #onExtensionError(childId: string, error: unknown): boolean {
    for (const entry of this.#interceptorActors.values()) {
      if (entry.ref?.id !== childId) continue
      const message = (error as Error)?.message ?? String(error)
      this.#logger.error(
        `Interceptor "${entry.interceptor.name}" failed: ${message}. It is restarted; the commands it held are rejected.`,
        {
          interceptor: entry.interceptor.name,
          error,
        },
      )
      this.#inspect('@statesource.interceptor-failed', {
        interceptor: entry.interceptor.name,
        error: message,
      })
      for (const [requestId, pending] of this.#pendingIntercepts) {
        if (pending.actorId !== childId) continue
        this.#pendingIntercepts.delete(requestId)
        clearTimeout(pending.timer)
        pending.fail(new Error(`its actor failed: ${message}`))
      }
      const failed = entry.ref
      entry.ref = undefined
      if (failed) this.#stopExtension(failed)
      if (this.#accepting && this.#scope) {
        entry.ref = this.#spawnExtension(entry.interceptor.logic, interceptorActorId(entry.interceptor.name))
      }
      return true
    }
    return childId.startsWith('statesource.tap.')
  }

  // ---- helpers --------------------------------------------------------------------------------

  #stopChild(entity: Entity): void {
    const ref = entity.ref
    entity.ref = undefined
    if (!ref) return
    try {
      if (this.#scope) this.#scope.stopChild(ref)
      else ref.stop()
    } catch {
      ref.stop()
    }
  }

  /** Answers an admitted command or state request (one the gateway held). */
  #reply(
    message: Queued,
    result: SendResult | StatesourceError | AnyMachineSnapshot,
    metadata: EventMetadata | undefined = message.type === 'statesource.command'
      ? message.options?.metadata
      : undefined,
  ): void {
    this.#held--
    this.#deliver(message, result, metadata)
  }

  /**
   * Sends the answer; what was refused at intake is answered here directly, as it was never held.
   * Every failure of a command, wherever it happens (intake, recovery, decide, persist, a drop), goes through
   * here, so this is where `commands$` and command taps learn of it.
   */
  #deliver(
    message: Queued,
    result: SendResult | StatesourceError | AnyMachineSnapshot,
    metadata: EventMetadata | undefined = message.type === 'statesource.command'
      ? message.options?.metadata
      : undefined,
  ): void {
    if (
      message.type === 'statesource.command' &&
      result instanceof Error &&
      this.config.taps?.hasCommandTaps
    ) {
      this.#publishFailure(message, result as StatesourceError, metadata ?? {})
    }
    try {
      if (message.reply) (message.reply as (result: unknown) => void)(result)
      else if ('replyTo' in message && message.replyTo) {
        message.replyTo.send(
          result instanceof Error
            ? { type: 'statesource.failure', error: result }
            : { type: 'statesource.reply', result },
        )
      }
    } catch (error) {
      this.#logger.warn(`Replying to a command failed: ${(error as Error)?.message ?? error}`, { error })
    }
  }

  #publishFailure(message: GatewayCommandEvent, error: StatesourceError, metadata: EventMetadata): void {
    const aggregate = this.#aggregates.get(message.aggregateType)
    const id = typeof message.id === 'string' ? message.id : String(message.id)
    this.config.taps!.publishCommand({
      aggregateType: message.aggregateType,
      id,
      persistenceId: aggregate ? aggregate.persistenceId(id) : `${message.aggregateType}|${id}`,
      command: message.command,
      metadata,
      outcome: error.code === 'COMMAND_REJECTED' ? 'rejected' : 'failed',
      error,
    })
  }

  #track(promise: Promise<unknown>): void {
    this.#inFlight.add(promise)
    void promise.finally(() => this.#inFlight.delete(promise))
  }

  /**
   * Whether pipeline events (`@statesource.*`) are built: only while someone listens to the gateway's
   * emitted events (`gateway.on(...)`), which saves their allocations on every command otherwise.
   */
  get #inspecting(): boolean {
    // XState keeps `on()` subscriptions in a private map; where it is missing, build the events anyway.
    const listeners = (this.#scope?.self as { eventListeners?: Map<string, Set<unknown>> } | undefined)
      ?.eventListeners
    return listeners === undefined || listeners.size > 0
  }

  /**
   * Pipeline events are the gateway's emitted events (`gateway.on('@statesource.command', ...)`), not
   * inspection events: XState inspectors (the Stately inspector included) only know `@xstate.*` ones.
   */
  #inspect(type: string, data: Record<string, unknown>): void {
    this.#scope?.emit({ type: type as GatewayPipelineEvent['type'], ...data })
  }

  #sendAsGateway(ref: AnyActorRef, event: DomainEvent): void {
    const self = this.#scope?.self
    const system = this.#scope?.system as
      | (AnyActorSystem & { _relay?: (source: AnyActorRef, target: AnyActorRef, event: unknown) => void })
      | undefined
    if (self && system?._relay) system._relay(self, ref, event)
    else ref.send(event)
  }
}

interface PendingIntercept {
  readonly actorId: string
  readonly resolve: (result: InterceptorResult) => void
  readonly fail: (error: Error) => void
  readonly timer: ReturnType<typeof setTimeout>
}

function interceptorActorId(name: string): string {
  return `statesource.interceptor.${name}`
}

/** Steps an entity's last known state through events without effects (no live actor to do it). */
function foldLive(entity: Entity, events: readonly DomainEvent[]): AnyMachineSnapshot {
  let state = entity.state!
  for (const event of events) state = entity.aggregate.runtime.step(state, event)
  return state
}

/** Structural equality of two XState state values (strings or nested objects of them). */
function sameStateValue(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return false
  for (const key of keys) {
    if (!sameStateValue((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]))
      return false
  }
  return true
}

function deletedHistory(pid: string, from: number, to: number): RecoveryError {
  return new RecoveryError(
    pid,
    `Events ${from}..${to} of "${pid}" were deleted and no snapshot covers them, so "${pid}" cannot be recovered. Delete events only up to the seqNr of a snapshot you keep (snapshotStore), or restore them.`,
  )
}

function gatewayStopped(): StatesourceError {
  return new StatesourceError(
    'GATEWAY_STOPPED',
    'The gateway is stopping or stopped and accepts no commands. Materialize it again.',
  )
}

function droppedOnTimeout(pid: string, commandType: string): StatesourceError {
  return new StatesourceError(
    'TIMEOUT',
    `Command "${commandType}" for "${pid}" timed out while it waited for its turn and was dropped; nothing was written.`,
  )
}

function aborted(pid: string, commandType: string, when = 'before it started'): StatesourceError {
  return new StatesourceError(
    'ABORTED',
    `Command "${commandType}" for "${pid}" was aborted ${when}; nothing was written.`,
  )
}

/**
 * The hash stored under a commandId. A command JSON cannot hold (a cycle, nesting deeper than the stack)
 * is a serialization failure of the caller's input, not a journal failure: nothing was written.
 */
function commandHash(command: { type: string }, pid: string): string {
  try {
    return hashOf(command)
  } catch (error) {
    throw new StatesourceError(
      'SERIALIZATION_FAILED',
      `Command "${command.type}" for "${pid}" cannot be serialized to check its commandId: ${(error as Error)?.message ?? error}. Send plain, acyclic JSON data only.`,
      { cause: error },
    )
  }
}

function toStatesourceError(error: unknown, pid: string): StatesourceError {
  if (isStatesourceError(error)) return error
  return new StatesourceError(
    'JOURNAL_FAILURE',
    `Writing to the journal for "${pid}" failed: ${(error as Error)?.message ?? error}`,
    {
      cause: error,
    },
  )
}

function safeDescribe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

function freshSnapshot(config: GatewayConfig, scope: AnyActorScope): GatewaySnapshot {
  const runtime = new GatewayRuntime(config)
  runtime.attach(scope)
  return {
    status: 'active',
    output: undefined,
    error: undefined,
    context: { runtime, stats: runtime.stats },
    // What inspectors and JSON.stringify see: the counters, not the live runtime (machines, journal, ...).
    toJSON(this: GatewaySnapshot) {
      return { status: this.status, context: { stats: { ...this.context.stats } } }
    },
  } as GatewaySnapshot
}

/** The gateway's actor logic type. */
export type GatewayLogic = ActorLogic<
  GatewaySnapshot,
  GatewayEvent,
  any,
  AnyActorSystem,
  GatewayPipelineEvent
>

/**
 * Creates the gateway supervisor: a custom XState `ActorLogic` that owns one child actor per aggregate id.
 * Spawn it inside your own system (`spawnChild(topology.gateway, { systemId: 'gateway' })`) or let
 * `materialize()` start it.
 */
export function createGatewayLogic(config: GatewayConfig): GatewayLogic {
  return {
    config: undefined,
    transition(snapshot, event, scope) {
      if (snapshot.status !== 'active') return snapshot
      snapshot.context.runtime.attach(scope)
      snapshot.context.runtime.handle(event)
      if (event.type === 'xstate.stop')
        return { ...snapshot, status: 'stopped', output: undefined, error: undefined } as GatewaySnapshot
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
    // A persisted gateway holds only counters: it restarts with no live aggregates, which recover lazily.
    restoreSnapshot: (_persisted, scope) => freshSnapshot(config, scope),
  }
}
