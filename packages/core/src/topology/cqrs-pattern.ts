import type { AnyActorLogic, AnyActorRef, InspectionEvent, Observer } from 'xstate'
import { createActor } from 'xstate'
import type { AnyAggregate, EventFrom } from '../aggregate/define-aggregate.ts'
import { type DomainEvent, EventCodecRegistry } from '../codec/event-codec-registry.ts'
import { CQRS_DEFAULTS } from '../defaults.ts'
import { NotConfiguredError } from '../errors.ts'
import { type Interceptor, type InterceptorFn, toInterceptor } from '../extensions/interceptor.ts'
import { type Listener, type ListenerFn, toListener } from '../extensions/listener.ts'
import { type TapConfig, TapHub } from '../extensions/tap.ts'
import type {
  CommandQueueLimits,
  GatewayConfig,
  PassivationConfig,
  RestartLimit,
  SnapshotPolicy,
} from '../gateway/gateway-config.ts'
import { createGatewayLogic, type GatewayLogic } from '../gateway/gateway-logic.ts'
import { consoleLogger, type Logger } from '../logger.ts'
import type { Journal } from '../persistence/journal.ts'
import { DEFAULT_INPUT_LIMITS } from '../persistence/limits.ts'
import type { OffsetStore } from '../persistence/offset-store.ts'
import type { ReadJournal } from '../persistence/read-journal.ts'
import type { SnapshotStore } from '../persistence/snapshot-store.ts'
import type { DeadLetterStore } from '../read-side/dead-letter-store.ts'
import type { ProjectionHandle } from '../read-side/projection-handle.ts'
import { registerReader, setDeadLetterStore } from '../read-side/read-side.ts'
import type { Reader } from '../read-side/reader.ts'
import type { ReaderPlacement } from '../read-side/reader-placement.ts'
import { createRepository } from '../repository/repository.ts'
import { CqrsHandles } from './cqrs-handles.ts'
import type { CqrsTopologyDescription } from './cqrs-topology.ts'

/** How a failed reader apply is retried before its error policy applies. */
export type RetrySchedule = { readonly fixedMs: number } | { readonly minMs: number; readonly maxMs: number }

/** The reference's `withReaderRetry(maxAttempts, schedule)`. `maxAttempts` counts the first try. */
export interface ReaderRetry {
  readonly maxAttempts: number
  readonly schedule: RetrySchedule
}

/** What the builder is constructed with: the journal is required, as in the reference. */
export interface CqrsBuilderConfig {
  readonly journal: Journal
  /** Default `"cqrs"`: the gateway's system id and the prefix of its children. */
  readonly name?: string
}

/** @internal State a builder accumulates; read-side and extension modules read it at materialize. */
export interface CqrsSettings {
  name: string
  journal: Journal
  aggregates: AnyAggregate[]
  readJournal: ReadJournal | undefined
  offsetStore: OffsetStore | undefined
  recoveryPermits: number
  pollIntervalMs: number
  repositoryTimeoutMs: number
  writerId: string
  writerIdExplicit: boolean
  snapshotStore: SnapshotStore | undefined
  snapshotPolicy: SnapshotPolicy | undefined
  snapshotKeepLast: number
  dedupeWindow: number
  codecs: EventCodecRegistry | undefined
  readerRetry: ReaderRetry | undefined
  interceptors: Interceptor[]
  listeners: Listener[]
  taps: TapConfig[]
  tapStreamBufferSize: number
  passivation: PassivationConfig
  restartLimit: RestartLimit
  commandQueue: CommandQueueLimits
  logger: Logger
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
  /** @internal hooks other modules (readers) add, run by build() and materialize(). */
  readonly validators: ((settings: CqrsSettings) => void)[] = []

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
  withEventCodecs(registry: EventCodecRegistry): this {
    this.settings.codecs = registry
    return this
  }

  /** Retry failed reader applies: `maxAttempts` counts the first try. */
  withReaderRetry(maxAttempts: number, schedule: RetrySchedule): this {
    this.settings.readerRetry = { maxAttempts, schedule }
    return this
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
    return registerReader(this as unknown as CqrsBuilder, reader as Reader<TState, any>)
  }

  /** Where readers with error policy `'dead-letter'` park events. Default: in memory. */
  deadLetterStore(store: DeadLetterStore): this {
    setDeadLetterStore(this as unknown as CqrsBuilder, store)
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
    for (const validate of this.validators) validate(s)
    return new CqrsTopology(this as unknown as CqrsBuilder, { ...s, aggregates: [...s.aggregates] })
  }
}

function positiveInt(value: number, what: string): void {
  if (!(Number.isInteger(value) && value >= 1)) {
    throw new NotConfiguredError(what, `${what} must be an integer of at least 1, got ${value}.`)
  }
}

/** Options of {@link CqrsTopology.materialize}. */
export interface MaterializeOptions {
  /** XState inspection observer for the gateway's system (each aggregate appears as an actor). */
  readonly inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void)
  /** Use a gateway you spawned in your own system instead of starting one. */
  readonly gateway?: AnyActorRef
  /**
   * Where the readers run. Default: the placement the gateway offers (a clustered gateway runs each reader
   * in one process of the cluster, under a lease), else every reader in this process.
   */
  readonly readerPlacement?: ReaderPlacement
}

/** @internal hooks run by materialize (readers start here). */
export type MaterializeHook = (
  handles: CqrsHandles,
  settings: CqrsSettings,
  options: MaterializeOptions,
) => void | Promise<void>

const materializeHooks = new WeakMap<CqrsBuilder, MaterializeHook[]>()

/** @internal Lets a module (the read side) run when a topology built by `builder` materializes. */
export function addMaterializeHook(builder: CqrsBuilder, hook: MaterializeHook): void {
  const list = materializeHooks.get(builder) ?? []
  list.push(hook)
  materializeHooks.set(builder, list)
}

/**
 * An inspectable description of a CQRS instance: nothing runs until `materialize()`.
 * `gateway` is the supervisor's actor logic, for spawning inside your own system.
 */
export class CqrsTopology {
  /** The gateway supervisor logic: `spawnChild(topology.gateway, { systemId: topology.name })`. */
  readonly gateway: GatewayLogic
  readonly taps: TapHub
  readonly #builder: CqrsBuilder

  /** @internal topologies come from `CqrsPattern.builder(...).build()`. */
  constructor(
    builder: CqrsBuilder,
    /** @internal */ readonly settings: Readonly<CqrsSettings>,
  ) {
    this.#builder = builder
    this.taps = new TapHub(settings.taps, settings.logger, {
      streamBufferSize: settings.tapStreamBufferSize,
    })
    // The user's registry itself, so what is registered on it later is used at once.
    const codecs = settings.codecs ?? new EventCodecRegistry()
    for (const a of settings.aggregates)
      for (const t of a.eventTypes)
        if (!codecs.knows(t, a.eventVersion(t))) codecs.register(t, a.eventVersion(t))
    const writerId = settings.writerId
    const config: GatewayConfig = {
      aggregates: settings.aggregates,
      journal: settings.journal,
      snapshotStore: settings.snapshotStore,
      snapshotPolicy:
        settings.snapshotPolicy ??
        (settings.snapshotStore ? { every: CQRS_DEFAULTS.snapshotEvery } : undefined),
      snapshotKeepLast: settings.snapshotKeepLast,
      recoveryPermits: settings.recoveryPermits,
      passivation: settings.passivation,
      restartLimit: settings.restartLimit,
      commandQueue: settings.commandQueue,
      dedupeWindow: settings.dedupeWindow,
      codecs,
      interceptors: settings.interceptors,
      writerId: settings.writerIdExplicit ? writerId : undefined,
      listeners: settings.listeners,
      taps: this.taps,
      logger: settings.logger,
    }
    this.codecs = codecs
    this.gateway = createGatewayLogic(config)
  }

  /** The codec registry in effect: the one given to `withEventCodecs` (or a new one), with each aggregate's own event types. */
  readonly codecs: EventCodecRegistry

  get name(): string {
    return this.settings.name
  }

  /** A plain, JSON-safe description of what will run. */
  describe(): CqrsTopologyDescription {
    const s = this.settings
    return {
      name: s.name,
      aggregates: s.aggregates.map((a) => ({
        type: a.type,
        machineId: (a.machine as { id: string }).id,
        version: a.version,
        commands: Object.keys(a.commands),
        events: [...a.eventTypes],
        invariants: Object.keys(a.invariants),
      })),
      journal: s.journal.constructor?.name ?? 'Journal',
      readJournal: s.readJournal ? (s.readJournal.constructor?.name ?? 'ReadJournal') : undefined,
      recoveryPermits: s.recoveryPermits,
      pollIntervalMs: s.pollIntervalMs,
      repositoryTimeoutMs: s.repositoryTimeoutMs,
      writerId: s.writerId,
      snapshots: s.snapshotStore
        ? { policy: s.snapshotPolicy ?? { every: CQRS_DEFAULTS.snapshotEvery }, keepLast: s.snapshotKeepLast }
        : undefined,
      dedupeWindow: s.dedupeWindow,
      readerRetry: s.readerRetry,
      interceptors: s.interceptors.map((i) => i.name),
      listeners: s.listeners.map((l) => l.name),
      taps: s.taps.map((t) => ({
        name: t.name,
        events: t.events !== undefined,
        commands: t.commands !== undefined,
        bufferSize: t.bufferSize ?? CQRS_DEFAULTS.tapBufferSize,
        overflow: t.overflow ?? 'drop-oldest',
      })),
      readers: this.readerDescriptions(),
      passivation: {
        idleTimeoutMs: s.passivation.idleTimeoutMs ?? CQRS_DEFAULTS.idleTimeoutMs,
        maxLive: s.passivation.maxLive ?? CQRS_DEFAULTS.maxLive,
      },
      restartLimit: s.restartLimit,
      commandQueue: {
        maxPerAggregate: s.commandQueue.maxPerAggregate ?? CQRS_DEFAULTS.commandQueue.maxPerAggregate,
        maxTotal: s.commandQueue.maxTotal ?? CQRS_DEFAULTS.commandQueue.maxTotal,
      },
      limits: s.journal.limits ?? DEFAULT_INPUT_LIMITS,
    }
  }

  /** @internal overridden by the read side through describe hooks. */
  readerDescriptions(): CqrsTopologyDescription['readers'] {
    return (readerDescribers.get(this.#builder) ?? []).map((d) => d())
  }

  /** Starts the gateway (or attaches to one you spawned) and the readers; returns the handles. */
  async materialize(options: MaterializeOptions = {}): Promise<CqrsHandles> {
    let gateway: AnyActorRef
    let owned = false
    if (options.gateway) gateway = options.gateway
    else {
      const actor = createActor(this.gateway as AnyActorLogic, {
        id: this.settings.name,
        systemId: this.settings.name,
        ...(options.inspect ? { inspect: options.inspect } : {}),
      })
      actor.start()
      gateway = actor
      owned = true
    }
    const handles = new CqrsHandles({
      gateway,
      owned,
      settings: this.settings,
      taps: this.taps,
      codecs: this.codecs,
      repositoryFor: (aggregate) =>
        createRepository(gateway, aggregate, { timeoutMs: this.settings.repositoryTimeoutMs }),
    })
    for (const hook of materializeHooks.get(this.#builder) ?? [])
      await hook(handles, this.settings as CqrsSettings, options)
    return handles
  }
}

const readerDescribers = new WeakMap<CqrsBuilder, (() => CqrsTopologyDescription['readers'][number])[]>()

/** @internal Lets the read side describe its readers in `describe()`. */
export function addReaderDescriber(
  builder: CqrsBuilder,
  describe: () => CqrsTopologyDescription['readers'][number],
): void {
  const list = readerDescribers.get(builder) ?? []
  list.push(describe)
  readerDescribers.set(builder, list)
}
