import type { AnyActorLogic } from 'xstate'
import type { AnyAggregate, EventFrom } from '../aggregate/define-aggregate.ts'
import type { DomainEvent, EventCodecRegistry } from '../codec/event-codec-registry.ts'
import { CQRS_DEFAULTS } from '../defaults.ts'
import { NotConfiguredError } from '../errors.ts'
import { type Interceptor, type InterceptorFn, toInterceptor } from '../extensions/interceptor.ts'
import { type Listener, type ListenerFn, toListener } from '../extensions/listener.ts'
import type { TapConfig } from '../extensions/tap.ts'
import type {
  CommandQueueLimits,
  PassivationConfig,
  RestartLimit,
  SnapshotPolicy,
} from '../gateway/gateway-config.ts'
import { consoleLogger, type Logger } from '../logger.ts'
import type { Journal } from '../persistence/journal.ts'
import type { OffsetStore } from '../persistence/offset-store.ts'
import type { ReadJournal } from '../persistence/read-journal.ts'
import type { SnapshotStore } from '../persistence/snapshot-store.ts'
import type { DeadLetterStore } from '../read-side/dead-letter-store.ts'
import type { ProjectionHandle } from '../read-side/projection-handle.ts'
import { ReadSide } from '../read-side/read-side.ts'
import type { Reader, RetrySchedule } from '../read-side/reader.ts'
import type { CqrsSettings } from './cqrs-settings.ts'
import { CqrsTopology } from './cqrs-topology.ts'

/** What the builder is constructed with: the journal is required, as in the reference. */
export interface CqrsBuilderConfig {
  readonly journal: Journal
  /** Default `"cqrs"`: the gateway's system id and the prefix of its children. */
  readonly name?: string
}

/**
 * The entry point: `CqrsPattern.builder({ journal })`.
 *
 * @example
 * ```ts
 * const handles = await CqrsPattern.builder({ journal: createInMemoryJournal() })
 *   .withAggregate(account)
 *   .build()
 *   .materialize()
 * await handles.repository(account).send('acc-1', { type: 'open', owner: 'Ada' })
 * ```
 */
export const CqrsPattern = {
  builder(config: CqrsBuilderConfig): CqrsBuilder<never> {
    return new CqrsBuilder(config)
  },
} as const

/**
 * Fluent builder for a CQRS instance. Every setter returns the builder; `build()` validates everything.
 *
 * @remarks
 * `TEvent` is the union of the registered aggregates' domain events, inferred by `withAggregate` (as XState
 * infers from `setup({ types })`): readers, listeners and taps added afterwards get typed events, so
 * `event.type === 'deposited'` narrows `event.amount` to a number. Register the aggregates first. Events
 * the journal holds for other aggregate types (a catch-all decoder) are not in the union.
 */
export class CqrsBuilder<TEvent extends { readonly type: string } = DomainEvent> {
  /** @internal */
  readonly settings: CqrsSettings
  /** The readers and dead-letter store, shared by every topology this builder builds. */
  readonly #readSide = new ReadSide()

  constructor(config: CqrsBuilderConfig) {
    this.settings = {
      name: config.name ?? 'cqrs',
      journal: config.journal,
      aggregates: [],
      readJournal: undefined,
      offsetStore: undefined,
      recoveryPermits: CQRS_DEFAULTS.recoveryPermits,
      pollIntervalMs: CQRS_DEFAULTS.pollIntervalMs,
      repositoryTimeoutMs: CQRS_DEFAULTS.repositoryTimeoutMs,
      writerId: `statesource-${Date.now().toString(16)}-${Math.random().toString(16).slice(2, 8)}`,
      writerIdExplicit: false,
      snapshotStore: undefined,
      snapshotPolicy: undefined,
      snapshotKeepLast: CQRS_DEFAULTS.snapshotKeepLast,
      dedupeWindow: CQRS_DEFAULTS.dedupeWindow,
      codecs: undefined,
      readerRetry: undefined,
      interceptors: [],
      listeners: [],
      taps: [],
      tapStreamBufferSize: CQRS_DEFAULTS.streamBufferSize,
      passivation: {},
      restartLimit: CQRS_DEFAULTS.restartLimit,
      commandQueue: {},
      logger: consoleLogger,
    }
  }

  /** The gateway's name (system id). Default `"cqrs"`. */
  name(name: string): this {
    this.settings.name = name
    return this
  }

  /** Registers an aggregate type. One gateway serves every registered type; its events join `TEvent`. */
  withAggregate<A extends AnyAggregate>(aggregate: A): CqrsBuilder<TEvent | EventFrom<A>> {
    this.settings.aggregates.push(aggregate)
    return this as unknown as CqrsBuilder<TEvent | EventFrom<A>>
  }

  /** The read journal readers follow. Defaults to the journal's own when it offers one (`journal.readJournal()`). */
  readJournal(readJournal: ReadJournal): this {
    this.settings.readJournal = readJournal
    return this
  }

  /** Where readers store their offsets durably. Default: in memory (offsets lost on restart). */
  offsetStore(store: OffsetStore): this {
    this.settings.offsetStore = store
    return this
  }

  /** How many aggregates may recover at once. Default 8 ({@link CQRS_DEFAULTS}); must be at least 1. */
  recoveryPermits(permits: number): this {
    this.settings.recoveryPermits = permits
    return this
  }

  /** How often readers poll for events from other processes. Default 50 ms ({@link CQRS_DEFAULTS}). */
  pollInterval(ms: number): this {
    this.settings.pollIntervalMs = ms
    return this
  }

  /** Default timeout of `repository.send`. Default 5,000 ms ({@link CQRS_DEFAULTS}). */
  repositoryTimeout(ms: number): this {
    this.settings.repositoryTimeoutMs = ms
    return this
  }

  /** When set, stamped into every event's metadata as `writerId` (the journal stamps its own writer id on envelopes). */
  writerId(id: string): this {
    this.settings.writerId = id
    this.settings.writerIdExplicit = true
    return this
  }

  /** Enables snapshot-first recovery. */
  snapshotStore(store: SnapshotStore): this {
    this.settings.snapshotStore = store
    return this
  }

  /**
   * When to snapshot: `{ every: n }` events since the last snapshot, or `'manual'`. Default `{ every: 100 }`
   * with a store ({@link CQRS_DEFAULTS}).
   */
  snapshotPolicy(policy: SnapshotPolicy): this {
    this.settings.snapshotPolicy = policy
    return this
  }

  /** How many snapshots to keep per aggregate (counted in snapshots). Default 1 ({@link CQRS_DEFAULTS}). */
  snapshotKeepLast(count: number): this {
    this.settings.snapshotKeepLast = count
    return this
  }

  /** How many command ids each aggregate remembers for idempotency. Default 100 ({@link CQRS_DEFAULTS}). */
  dedupeWindow(size: number): this {
    this.settings.dedupeWindow = size
    return this
  }

  /**
   * Decoders and upcasters for stored events, used by recovery and by readers.
   *
   * @remarks The registry is used as it is, not copied: registering on it later (the decoder a halted
   * reader waits for) takes effect at once. At `build()` each aggregate's own event types are added to it at
   * their current versions, where it does not know them yet. `handles.codecs` is this same registry.
   */
  eventCodecs(registry: EventCodecRegistry): this {
    this.settings.codecs = registry
    return this
  }

  /** @deprecated Use {@link CqrsBuilder.eventCodecs}: a setting that replaces is named by a plain noun. */
  withEventCodecs(registry: EventCodecRegistry): this {
    return this.eventCodecs(registry)
  }

  /**
   * Retry failed reader applies: `maxAttempts` counts the first try. A reader's own `retry` overrides it.
   *
   * @example
   * ```ts
   * builder.readerRetry(3, { minMs: 10, maxMs: 1_000 })
   * ```
   */
  readerRetry(maxAttempts: number, schedule: RetrySchedule): this {
    this.settings.readerRetry = { maxAttempts, schedule }
    return this
  }

  /** @deprecated Use {@link CqrsBuilder.readerRetry}: a setting that replaces is named by a plain noun. */
  withReaderRetry(maxAttempts: number, schedule: RetrySchedule): this {
    return this.readerRetry(maxAttempts, schedule)
  }

  /**
   * Adds a reader (a projection) and returns its handle. Names must be unique (checked by `build()`); the
   * runner starts at `materialize()` and stops with the handles.
   *
   * @example
   * ```ts
   * const totals = builder.withReader(
   *   defineReader({ name: 'totals', initialState: 0, apply: (n: number, e) => (e.type === 'deposited' ? n + 1 : n) }),
   * )
   * ```
   */
  withReader<TState>(reader: Reader<TState, TEvent>): ProjectionHandle<TState> {
    return this.#readSide.add(reader as Reader<TState, any>)
  }

  /** Where readers with error policy `'dead-letter'` park events. Default: in memory. */
  deadLetterStore(store: DeadLetterStore): this {
    this.#readSide.deadLetters = store
    return this
  }

  /**
   * Adds an interceptor (validation, authorization, enrichment) run before `decide`, in registration order:
   * a function, `{ name, intercept }`, XState actor logic, or `{ name, logic, timeoutMs }`. Actor logic is
   * spawned in the gateway's system and answers `statesource.intercept` requests (see `interceptPass`).
   */
  onCommand(interceptor: Interceptor | InterceptorFn | AnyActorLogic): this {
    const normalized = toInterceptor(interceptor, this.settings.interceptors.length)
    if ('logic' in normalized && this.settings.interceptors.some((i) => i.name === normalized.name)) {
      // Actor interceptors are spawned under their name, so it must be unique.
      throw new NotConfiguredError(
        'interceptor',
        `Two interceptors are named "${normalized.name}"; give the actor interceptor a unique name: onCommand({ name, logic }).`,
      )
    }
    this.settings.interceptors.push(normalized)
    return this
  }

  /** Adds a listener run after commit, before the reply. */
  onEvent(listener: Listener<TEvent> | ListenerFn<TEvent>): this {
    this.settings.listeners.push(
      toListener(listener as Listener | ListenerFn, this.settings.listeners.length),
    )
    return this
  }

  /**
   * Adds an async, bounded tap of persisted events and/or commands. A target may be a function, an RxJS
   * observer or subject, an actor ref, or actor logic (spawned in the gateway's system).
   */
  withTap(tap: TapConfig<TEvent>): this {
    this.settings.taps.push(tap as unknown as TapConfig)
    return this
  }

  /**
   * The buffer, in items, of each `events$` / `commands$` subscription of `handles.taps` (drop-oldest).
   * Default 10,000 ({@link CQRS_DEFAULTS}).
   */
  tapStreamBufferSize(size: number): this {
    this.settings.tapStreamBufferSize = size
    return this
  }

  /** Idle timeout and maximum live aggregates. */
  passivation(config: PassivationConfig): this {
    this.settings.passivation = { ...this.settings.passivation, ...config }
    return this
  }

  /** How many child failures per window an aggregate may have before its commands are refused. */
  restartLimit(limit: RestartLimit): this {
    this.settings.restartLimit = limit
    return this
  }

  /**
   * Back-pressure: how many commands may wait for one aggregate (default 1,000) and how many the gateway
   * holds in total (default 100,000). Beyond either, `send` rejects at once with an `OverloadedError`.
   *
   * @example
   * ```ts
   * builder.commandQueue({ maxPerAggregate: 100, maxTotal: 10_000 })
   * ```
   */
  commandQueue(limits: CommandQueueLimits): this {
    this.settings.commandQueue = { ...this.settings.commandQueue, ...limits }
    return this
  }

  /** Where failures of listeners, taps, snapshots and readers are reported. Default: console. */
  logger(logger: Logger): this {
    this.settings.logger = logger
    return this
  }

  /** Validates the configuration and returns an inspectable, not yet running topology. */
  build(): CqrsTopology {
    const s = this.settings
    if (!s.journal)
      throw new NotConfiguredError('journal', 'No journal: pass one to CqrsPattern.builder({ journal }).')
    if (s.aggregates.length === 0) {
      throw new NotConfiguredError(
        'aggregate',
        'No aggregate: register at least one with withAggregate(defineAggregate(...)).',
      )
    }
    const types = new Set<string>()
    for (const a of s.aggregates) {
      if (types.has(a.type))
        throw new NotConfiguredError('aggregate', `Aggregate type "${a.type}" is registered twice.`)
      types.add(a.type)
    }
    positiveInt(s.recoveryPermits, 'recoveryPermits')
    positiveInt(s.pollIntervalMs, 'pollInterval')
    positiveInt(s.repositoryTimeoutMs, 'repositoryTimeout')
    positiveInt(s.snapshotKeepLast, 'snapshotKeepLast')
    if (!(Number.isInteger(s.dedupeWindow) && s.dedupeWindow >= 0)) {
      throw new NotConfiguredError(
        'dedupeWindow',
        `dedupeWindow must be an integer of at least 0, got ${s.dedupeWindow}.`,
      )
    }
    if (s.snapshotPolicy && s.snapshotPolicy !== 'manual')
      positiveInt(s.snapshotPolicy.every, 'snapshotPolicy.every')
    if (s.snapshotPolicy && !s.snapshotStore) {
      throw new NotConfiguredError(
        'snapshotStore',
        'A snapshot policy is set but no snapshot store: add snapshotStore(store).',
      )
    }
    if (s.passivation.idleTimeoutMs !== undefined)
      positiveInt(s.passivation.idleTimeoutMs, 'passivation.idleTimeoutMs')
    if (s.passivation.maxLive !== undefined) positiveInt(s.passivation.maxLive, 'passivation.maxLive')
    if (s.readerRetry) positiveInt(s.readerRetry.maxAttempts, 'readerRetry.maxAttempts')
    if (s.commandQueue.maxPerAggregate !== undefined)
      positiveInt(s.commandQueue.maxPerAggregate, 'commandQueue.maxPerAggregate')
    if (s.commandQueue.maxTotal !== undefined) positiveInt(s.commandQueue.maxTotal, 'commandQueue.maxTotal')
    const tapNames = new Set<string>()
    for (const t of s.taps) {
      if (tapNames.has(t.name))
        throw new NotConfiguredError('taps', `Two taps are named "${t.name}"; tap names must be unique.`)
      tapNames.add(t.name)
    }
    this.#readSide.validate(s)
    return new CqrsTopology({ ...s, aggregates: [...s.aggregates] }, this.#readSide)
  }
}

function positiveInt(value: number, what: string): void {
  if (!(Number.isInteger(value) && value >= 1)) {
    throw new NotConfiguredError(what, `${what} must be an integer of at least 1, got ${value}.`)
  }
}
