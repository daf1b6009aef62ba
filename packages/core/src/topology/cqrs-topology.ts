import type { AnyActorLogic, AnyActorRef, InspectionEvent, Observer } from 'xstate'
import { createActor } from 'xstate'
import { EventCodecRegistry } from '../codec/event-codec-registry.ts'
import { CQRS_DEFAULTS } from '../defaults.ts'
import { TapHub } from '../extensions/tap.ts'
import type { GatewayConfig, SnapshotPolicy } from '../gateway/gateway-config.ts'
import { createGatewayLogic, type GatewayLogic } from '../gateway/gateway-logic.ts'
import { DEFAULT_INPUT_LIMITS, type ResolvedInputLimits } from '../persistence/limits.ts'
import type { ReadSide } from '../read-side/read-side.ts'
import type { ReaderRetry } from '../read-side/reader.ts'
import { placementOf, type ReaderPlacement } from '../read-side/reader-placement.ts'
import { createRepository } from '../repository/repository.ts'
import { CqrsHandles } from './cqrs-handles.ts'
import type { CqrsSettings } from './cqrs-settings.ts'

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

/**
 * An inspectable description of a CQRS instance: nothing runs until `materialize()`.
 * `gateway` is the supervisor's actor logic, for spawning inside your own system.
 */
export class CqrsTopology {
  /** The gateway supervisor logic: `spawnChild(topology.gateway, { systemId: topology.name })`. */
  readonly gateway: GatewayLogic
  readonly taps: TapHub
  readonly #readSide: ReadSide

  /** @internal topologies come from `CqrsPattern.builder(...).build()`. */
  constructor(
    /** @internal */ readonly settings: Readonly<CqrsSettings>,
    readSide: ReadSide,
  ) {
    this.#readSide = readSide
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

  /** The codec registry in effect: the one given to `eventCodecs` (or a new one), with each aggregate's own event types. */
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
      readers: this.#readSide.describe(s),
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
    const readSide = this.#readSide.materialize({ ...this.settings, codecs: this.codecs })
    const handles = new CqrsHandles({
      gateway,
      owned,
      settings: this.settings,
      taps: this.taps,
      codecs: this.codecs,
      readSide,
      repositoryFor: (aggregate) =>
        createRepository(gateway, aggregate, { timeoutMs: this.settings.repositoryTimeoutMs }),
    })
    if (readSide) {
      handles.onStop(() => readSide.stop())
      await readSide.start(options.readerPlacement ?? placementOf(gateway))
    }
    return handles
  }
}

/** A plain, JSON-safe description of a topology: what `CqrsTopology.describe()` returns. */
export interface CqrsTopologyDescription {
  readonly name: string
  readonly aggregates: readonly {
    readonly type: string
    readonly machineId: string
    readonly version: string
    readonly commands: readonly string[]
    readonly events: readonly string[]
    readonly invariants: readonly string[]
  }[]
  readonly journal: string
  readonly readJournal: string | undefined
  readonly recoveryPermits: number
  readonly pollIntervalMs: number
  readonly repositoryTimeoutMs: number
  readonly writerId: string
  readonly snapshots: { readonly policy: SnapshotPolicy; readonly keepLast: number } | undefined
  readonly dedupeWindow: number
  readonly readerRetry: ReaderRetry | undefined
  readonly interceptors: readonly string[]
  readonly listeners: readonly string[]
  readonly taps: readonly {
    readonly name: string
    readonly events: boolean
    readonly commands: boolean
    readonly bufferSize: number
    readonly overflow: string
  }[]
  readonly readers: readonly {
    readonly name: string
    readonly filter: unknown
    readonly [key: string]: unknown
  }[]
  readonly passivation: { readonly idleTimeoutMs: number; readonly maxLive: number }
  readonly restartLimit: { readonly maxRestarts: number; readonly withinMs: number }
  readonly commandQueue: { readonly maxPerAggregate: number; readonly maxTotal: number }
  /** The size limits the journal enforces (and the gateway checks ids against at intake). */
  readonly limits: ResolvedInputLimits
}
