// Hot path: measured by packages/bench/src/cases/statesource-case.ts (pnpm bench). Measure before and after changing this file.
import type { AnyActorScope, AnyMachineSnapshot } from 'xstate'
import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import { CQRS_DEFAULTS } from '../defaults.ts'
import { NotConfiguredError, OverloadedError, type StatesourceError } from '../errors.ts'
import { uuidSequence } from '../internal/ids.ts'
import { consoleLogger, type Logger } from '../logger.ts'
import { checkPersistenceId, DEFAULT_INPUT_LIMITS, type ResolvedInputLimits } from '../persistence/limits.ts'
import { CommandProcessing } from './command-processing.ts'
import { Entities, type Entity } from './entity.ts'
import { EntityRecovery } from './entity-recovery.ts'
import { EntitySnapshots } from './entity-snapshots.ts'
import { ExtensionHost } from './extension-host.ts'
import type { GatewayConfig } from './gateway-config.ts'
import { GatewayScope } from './gateway-scope.ts'
import { createGatewayStats, type GatewayStats } from './gateway-stats.ts'
import { Idempotency } from './idempotency.ts'
import {
  checkMessage,
  failedChildId,
  type GatewayCommandEvent,
  isChildError,
  isGatewayEvent,
  type QueuedMessage,
  toInputError,
} from './messages.ts'
import { Passivation } from './passivation.ts'
import { RecoveryPermits } from './recovery-permits.ts'
import { gatewayStopped, Replies } from './replies.ts'
import { Supervision } from './supervision.ts'

/** Unknown message types reported to the logger, at most: each is reported once. */
const MAX_REPORTED_UNKNOWN = 100

/**
 * The gateway's working state: one instance per gateway actor, touched only from the actor's transition and
 * from the async work each entity does one command at a time. It takes messages in (intake, back-pressure),
 * hands them to its parts ({@link CommandProcessing}, {@link EntityRecovery}, {@link Passivation},
 * {@link ExtensionHost}) and supervises the aggregates' live actors.
 */
export class GatewayRuntime {
  readonly stats: GatewayStats = createGatewayStats()
  readonly #scope = new GatewayScope()
  readonly #aggregates = new Map<string, AnyAggregate>()
  readonly #logger: Logger
  readonly #limits: ResolvedInputLimits
  readonly #maxPerAggregate: number
  readonly #maxTotal: number
  readonly #entities: Entities
  readonly #extensions: ExtensionHost
  readonly #replies: Replies
  readonly #snapshots: EntitySnapshots
  readonly #passivation: Passivation
  readonly #recovery: EntityRecovery
  readonly #processing: CommandProcessing
  readonly #supervision: Supervision
  /** Recoveries and snapshot saves under way: `drain()` waits for them. */
  readonly #inFlight = new Set<Promise<unknown>>()
  readonly #nextCorrelationId = uuidSequence()
  readonly #reportedUnknown = new Set<string>()
  #accepting = true

  constructor(readonly config: GatewayConfig) {
    for (const aggregate of config.aggregates) this.#aggregates.set(aggregate.type, aggregate)
    const logger = config.logger ?? consoleLogger
    const stats = this.stats
    const scope = this.#scope
    const track = (promise: Promise<unknown>) => this.#track(promise)
    this.#logger = logger
    this.#limits = config.journal.limits ?? DEFAULT_INPUT_LIMITS
    this.#maxPerAggregate = config.commandQueue?.maxPerAggregate ?? CQRS_DEFAULTS.commandQueue.maxPerAggregate
    this.#maxTotal = config.commandQueue?.maxTotal ?? CQRS_DEFAULTS.commandQueue.maxTotal
    this.#supervision = new Supervision(config.restartLimit ?? CQRS_DEFAULTS.restartLimit)
    const idempotency = new Idempotency(config.dedupeWindow ?? CQRS_DEFAULTS.dedupeWindow)
    const entities = new Entities(stats, scope)
    this.#entities = entities
    this.#extensions = new ExtensionHost({
      interceptors: config.interceptors,
      listeners: config.listeners,
      taps: config.taps,
      logger,
      scope,
      persistenceIdOf: (aggregateType, id) =>
        this.#aggregates.get(aggregateType)?.persistenceId(id) ?? `${aggregateType}|${id}`,
    })
    this.#replies = new Replies(logger, this.#extensions)
    this.#snapshots = new EntitySnapshots({
      store: config.snapshotStore,
      policy: config.snapshotPolicy,
      keepLast: config.snapshotKeepLast,
      idempotency,
      logger,
      track,
    })
    this.#passivation = new Passivation({
      idleMs: config.passivation?.idleTimeoutMs ?? CQRS_DEFAULTS.idleTimeoutMs,
      maxLive: config.passivation?.maxLive ?? CQRS_DEFAULTS.maxLive,
      entities,
      snapshots: this.#snapshots,
      scope,
      stats,
    })
    this.#processing = new CommandProcessing({
      journal: config.journal,
      writerId: config.writerId,
      nextCorrelationId: this.#nextCorrelationId,
      entities,
      idempotency,
      extensions: this.#extensions,
      snapshots: this.#snapshots,
      passivation: this.#passivation,
      replies: this.#replies,
      scope,
      stats,
      replace: (entity) => this.#replace(entity),
      childFailed: (entity, error) => this.#childFailed(entity, error),
    })
    this.#recovery = new EntityRecovery({
      journal: config.journal,
      snapshotStore: config.snapshotStore,
      codecs: config.codecs,
      permits: new RecoveryPermits(config.recoveryPermits ?? CQRS_DEFAULTS.recoveryPermits),
      idempotency,
      entities,
      scope,
      stats,
      logger,
      track,
      ready: (entity) => this.#processing.pump(entity),
      answer: (message, error) => this.#replies.fail(message, error),
    })
  }

  attach(scope: AnyActorScope): void {
    this.#scope.attach(scope)
  }

  start(): void {
    this.#extensions.start()
    this.#passivation.start()
  }

  /** Whether an aggregate is live (recovered and in memory). */
  isLive(persistenceId: string): boolean {
    return this.#entities.get(persistenceId) !== undefined
  }

  /** The live machine snapshot of an aggregate, if it is in memory. */
  liveState(persistenceId: string): AnyMachineSnapshot | undefined {
    return this.#entities.get(persistenceId)?.state
  }

  /** The persistence ids of live aggregates, least recently used first. */
  liveIds(): string[] {
    return this.#entities.pids()
  }

  /** Handles one message of the gateway actor's mailbox; what is not a {@link GatewayEvent} is reported and ignored. */
  handle(message: unknown): void {
    if (!isGatewayEvent(message)) return this.#ignore(message)
    switch (message.type) {
      case 'statesource.command':
      case 'statesource.state':
        return this.#accept(message)
      case 'statesource.recovered':
        return this.#recovery.onRecovered(message)
      case 'statesource.recovery-failed':
        return this.#recovery.onRecoveryFailed(message)
      case 'statesource.persisted':
        return this.#processing.onPersisted(message)
      case 'statesource.persist-failed':
        return this.#processing.onPersistFailed(message)
      case 'statesource.passivate':
        return this.#passivation.onPassivate(message)
      case 'statesource.sweep':
        return this.#passivation.sweep()
      case 'statesource.intercept.pass':
      case 'statesource.intercept.reject':
        return this.#extensions.onInterceptAnswer(message)
      case 'xstate.stop':
        return this.stopNow()
      default:
        // A child reached its final state otherwise: an aggregate's actor keeps its final state and serves on.
        if (isChildError(message)) return this.#onChildError(failedChildId(message), message.error)
    }
  }

  /** Stops accepting commands, waits for in-flight work, then stops every child. */
  async drain(): Promise<void> {
    this.#accepting = false
    while (this.#inFlight.size > 0 || this.#processing.active > 0 || this.#entities.anyBusy()) {
      await Promise.allSettled([...this.#inFlight])
      await new Promise((r) => setImmediate(r))
    }
  }

  /** Immediate stop: refuse what is queued, stop all children. In-flight appends still complete and reply. */
  stopNow(): void {
    this.#accepting = false
    this.#passivation.stop()
    this.#extensions.stop()
    for (const entity of this.#entities.leastRecentlyUsed()) {
      for (const message of this.#entities.drop(entity)) this.#replies.fail(message, gatewayStopped())
    }
  }

  /** Snapshots an aggregate now (if a snapshot store is configured and it has unsnapshotted events). */
  snapshotNow(persistenceId: string): boolean {
    const entity = this.#entities.get(persistenceId)
    if (entity?.phase !== 'ready') return false
    this.#snapshots.save(entity)
    return true
  }

  /** Passivates an idle aggregate now; false if it is not live or is busy. */
  passivateNow(persistenceId: string): boolean {
    return this.#passivation.passivateNow(persistenceId)
  }

  // ---- intake -----------------------------------------------------------------------------------

  /** Admits a command or state request to its entity's queue, or refuses it at once with a typed error. */
  #accept(received: QueuedMessage): void {
    const message = received.type === 'statesource.command' ? this.#received(received) : received
    if (!this.#accepting) return this.#replies.refuse(message, gatewayStopped())
    const aggregate = this.#aggregates.get(message.aggregateType)
    if (!aggregate) return this.#replies.refuse(message, unknownAggregate(message.aggregateType))
    const invalid = checkMessage(message)
    if (invalid) return this.#replies.refuse(message, invalid)
    const pid = aggregate.persistenceId(message.id)
    const refused = this.#refusal(pid)
    if (refused) return this.#replies.refuse(message, refused)
    if (message.type === 'statesource.command' && this.#scope.inspecting)
      this.#scope.emit('@statesource.command', {
        persistenceId: pid,
        command: message.command,
        phase: 'received',
        correlationId: message.options?.metadata?.correlationId,
        commandId: message.options?.commandId,
      })
    this.#admit(aggregate, message, pid)
  }

  /** Counts a command and, while someone inspects, gives it a correlation id to join its pipeline events. */
  #received(message: GatewayCommandEvent): GatewayCommandEvent {
    this.stats.commands++
    if (message.options?.metadata?.correlationId !== undefined || !this.#scope.inspecting) return message
    // When nobody inspects, command processing adds it to the metadata it builds anyway, saving this copy.
    const options = message.options ?? {}
    return {
      ...message,
      options: { ...options, metadata: { ...options.metadata, correlationId: this.#nextCorrelationId() } },
    }
  }

  /** Why commands to this aggregate are refused now, if they are. */
  #refusal(pid: string): StatesourceError | undefined {
    try {
      // The journal would refuse it after recovery and decide: refuse it before anything is queued.
      checkPersistenceId(pid, this.#limits)
    } catch (error) {
      return toInputError(error)
    }
    return this.#supervision.refusal(pid)
  }

  /** Queues a message on its entity (created, and recovering, if it is not in memory), within the queue bounds. */
  #admit(aggregate: AnyAggregate, message: QueuedMessage, pid: string): void {
    const entity = this.#entities.get(pid)
    // Back-pressure: refuse at once rather than queue without bound.
    if (entity && entity.queue.length >= this.#maxPerAggregate) {
      return this.#overloaded(
        message,
        new OverloadedError(pid, what(message), 'maxPerAggregate', this.#maxPerAggregate),
      )
    }
    if (this.#replies.held >= this.#maxTotal) {
      return this.#overloaded(message, new OverloadedError(pid, what(message), 'maxTotal', this.#maxTotal))
    }
    this.#replies.held++
    if (entity) {
      this.#entities.touch(entity)
      entity.queue.push(message)
      if (entity.phase === 'ready') this.#processing.pump(entity)
      return
    }
    this.#createEntity(aggregate, message.id, pid).queue.push(message)
    this.#passivation.evictOverflow()
  }

  #overloaded(message: QueuedMessage, error: OverloadedError): void {
    this.stats.overloaded++
    this.#replies.refuse(message, error)
  }

  #createEntity(aggregate: AnyAggregate, id: string, pid: string): Entity {
    const entity = this.#entities.create(aggregate, id, pid)
    this.#recovery.start(entity)
    return entity
  }

  /** A message the gateway does not handle: reported once per type, then ignored. */
  #ignore(message: unknown): void {
    const type =
      typeof message === 'object' && message !== null && 'type' in message && typeof message.type === 'string'
        ? message.type
        : `a ${typeof message} without a string type`
    if (this.#reportedUnknown.has(type) || this.#reportedUnknown.size >= MAX_REPORTED_UNKNOWN) return
    this.#reportedUnknown.add(type)
    this.#logger.warn(
      `The gateway ignored a message it does not handle: "${type}". Send commands and state requests through a repository (createRepository or handles.repository). Reported once per message type.`,
      { type },
    )
  }

  // ---- supervision ------------------------------------------------------------------------------

  #onChildError(childId: string, error: unknown): void {
    if (this.#extensions.onChildError(childId, error, this.#accepting)) return
    const entity = this.#entities.get(childId)
    if (!entity?.ref || entity.ref.id !== childId) return
    if (entity.phase === 'busy') return // handled when its persisted message is applied
    this.#childFailed(entity, error)
  }

  #childFailed(entity: Entity, error: unknown): void {
    this.stats.restarts++
    const message = (error as Error)?.message ?? String(error)
    this.#logger.error(
      `The live actor of "${entity.pid}" failed: ${message}. Its events are durable; it will be recovered from the journal on its next command.`,
      { persistenceId: entity.pid, error },
    )
    this.#scope.emit('@statesource.aggregate-failed', { persistenceId: entity.pid, error: message })
    if (!this.#supervision.failed(entity.pid)) return this.#replace(entity)
    const waiting = this.#entities.drop(entity)
    // Admitted again by #accept (or refused there as failing): no longer held as they were.
    this.#replies.held -= waiting.length
    for (const queued of waiting) this.#accept(queued)
  }

  /** Drops an entity and queues its waiting messages on a freshly recovered one. */
  #replace(entity: Entity): void {
    const waiting = this.#entities.drop(entity)
    if (waiting.length > 0 && this.#accepting) {
      this.#createEntity(entity.aggregate, entity.id, entity.pid).queue.push(...waiting)
    } else {
      // Stopping: nothing will process them, so answer them rather than leave their callers waiting.
      for (const queued of waiting) this.#replies.fail(queued, gatewayStopped())
    }
  }

  #track(promise: Promise<unknown>): void {
    this.#inFlight.add(promise)
    void promise.finally(() => this.#inFlight.delete(promise))
  }
}

function what(message: QueuedMessage): string {
  return message.type === 'statesource.command' ? message.command.type : 'statesource.state'
}

function unknownAggregate(aggregateType: string): NotConfiguredError {
  return new NotConfiguredError(
    'aggregate',
    `This gateway has no aggregate "${aggregateType}". Register it with the builder's withAggregate().`,
  )
}
