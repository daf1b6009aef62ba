// Hot path: measured by packages/bench/src/cases/statesource-case.ts (pnpm bench). Measure before and after changing this file.
import type { AnyMachineSnapshot } from 'xstate'
import { type AnyAggregate, runDecide } from '../aggregate/define-aggregate.ts'
import { validateEvents } from '../aggregate/validate-events.ts'
import type { DomainEvent } from '../codec/event-codec-registry.ts'
import { CommandRejectedError, ConcurrencyError, isStatesourceError, StatesourceError } from '../errors.ts'
import { runInterceptors } from '../extensions/interceptor.ts'
import type { AppendOutcome, EventMetadata, NewEvent } from '../persistence/envelope.ts'
import type { Journal } from '../persistence/journal.ts'
import type { Entities, Entity } from './entity.ts'
import type { EntitySnapshots } from './entity-snapshots.ts'
import type { ExtensionHost } from './extension-host.ts'
import type { GatewayScope } from './gateway-scope.ts'
import type { GatewayStats } from './gateway-stats.ts'
import { type CommandRecord, commandHash, type Idempotency } from './idempotency.ts'
import type {
  CommandWrite,
  GatewayCommandEvent,
  PersistedMessage,
  PersistFailedMessage,
  SendOptions,
  SendResult,
} from './messages.ts'
import type { Passivation } from './passivation.ts'
import type { Replies } from './replies.ts'

/** Options of {@link CommandProcessing}. */
export interface CommandProcessingOptions {
  readonly journal: Journal
  /** Stamped into every event's metadata when set. */
  readonly writerId: string | undefined
  readonly nextCorrelationId: () => string
  readonly entities: Entities
  readonly idempotency: Idempotency
  readonly extensions: ExtensionHost
  readonly snapshots: EntitySnapshots
  readonly passivation: Passivation
  readonly replies: Replies
  readonly scope: GatewayScope
  readonly stats: GatewayStats
  /** The entity's memory may be behind the journal: drop it and recover it afresh. */
  readonly replace: (entity: Entity) => void
  /** The entity's live actor failed (or disagrees with the replayed chart). */
  readonly childFailed: (entity: Entity, error: unknown) => void
}

const NO_OPTIONS: SendOptions = {}

/**
 * Runs an entity's queue, one command at a time: idempotency check, expected version, interceptors,
 * `decide`, the chart check, then the append. The outcome of the append comes back as a message to the
 * gateway (`statesource.persisted` / `statesource.persist-failed`), so that the live actor, listeners,
 * the reply and taps see committed events in mailbox order.
 */
export class CommandProcessing {
  readonly #options: CommandProcessingOptions
  /** Commands between their start and their answer (counted rather than tracked: this is the hot path). */
  #active = 0

  constructor(options: CommandProcessingOptions) {
    this.#options = options
  }

  /** Commands started and not answered yet. */
  get active(): number {
    return this.#active
  }

  /** Starts the entity's next command if it is ready, answering the state requests and dropped commands before it. */
  pump(entity: Entity): void {
    const { replies } = this.#options
    while (entity.phase === 'ready' && entity.queue.length > 0) {
      const message = entity.queue.shift()!
      if (message.type === 'statesource.state') {
        replies.state(message, entity.state!)
        continue
      }
      if (message.options?.signal?.aborted) {
        replies.fail(message, aborted(entity.pid, message.command.type))
        continue
      }
      if (message.expired?.()) {
        replies.fail(message, droppedOnTimeout(entity.pid, message.command.type))
        continue
      }
      entity.phase = 'busy'
      this.#active++ // #process counts it down when it ends
      void this.#process(entity, message)
    }
  }

  onPersisted(message: PersistedMessage): void {
    const { write, envelopes, events } = message
    const last = envelopes.at(-1)!
    const result: SendResult = {
      persistenceId: message.pid,
      events: envelopes,
      version: last.seqNr,
      ordering: last.ordering,
      duplicate: false,
    }
    write.done = true
    this.#options.stats.persistedEvents += envelopes.length
    const entity = this.#options.entities.current(message.pid, message.generation)
    if (!entity) {
      // The entity was replaced meanwhile, but these events are durable: hooks still see them.
      const { aggregateType, id } = write.message
      return this.#afterCommit(aggregateType, id, message.pid, write, message, result)
    }
    entity.seqNr = last.seqNr
    entity.eventsSinceSnapshot += envelopes.length
    const failure = this.#applyToLive(entity, events, message.trial)
    const { commandId, commandHash } = write.metadata
    if (commandId !== undefined && commandHash !== undefined) {
      this.#options.idempotency.rememberWritten(entity, commandId, commandHash, envelopes)
    }
    this.#afterCommit(entity.aggregate.type, entity.id, entity.pid, write, message, result)
    if (failure !== undefined) return this.#options.childFailed(entity, failure)
    this.#options.snapshots.afterCommand(entity)
    this.#resume(entity)
  }

  onPersistFailed(message: PersistFailedMessage): void {
    const { write } = message
    const failure = toStatesourceError(message.error, message.pid)
    write.done = true
    this.#options.stats.failed++
    this.#options.scope.emit('@statesource.command', {
      persistenceId: message.pid,
      command: write.message.command,
      phase: 'failed',
      error: failure.message,
      correlationId: write.metadata.correlationId,
    })
    const entity = this.#options.entities.current(message.pid, message.generation)
    if (entity && (failure.code === 'SERIALIZATION_FAILED' || failure.code === 'INVALID_INPUT')) {
      // Nothing was written and memory was not touched: the entity stays valid.
      return this.#finish(entity, write.message, failure, write.metadata)
    }
    this.#options.replies.command(write.message, failure, write.metadata)
    // A conflict, a journal failure or an unknown outcome: memory may be behind the journal. Drop and
    // recover afresh, so that a retry with the same commandId finds the first attempt if it committed.
    if (entity) this.#options.replace(entity)
  }

  async #process(entity: Entity, message: GatewayCommandEvent): Promise<void> {
    const { aggregate, pid } = entity
    const { command } = message
    const options = message.options ?? NO_OPTIONS
    let metadata: EventMetadata = {}
    try {
      metadata = this.#metadataOf(options)
      // Idempotency: the same command id returns the first result; another payload under it is refused.
      let hash: string | undefined
      if (options.commandId !== undefined) {
        hash = commandHash(command, pid)
        const earlier = this.#options.idempotency.find(entity, options.commandId, hash, pid)
        if (earlier) return await this.#answerAgain(entity, message, earlier)
        metadata = { ...metadata, commandId: options.commandId, commandHash: hash }
      }
      if (options.expectedVersion !== undefined && options.expectedVersion !== entity.seqNr) {
        throw new ConcurrencyError(pid, options.expectedVersion, entity.seqNr)
      }
      if (this.#options.extensions.interceptors.length > 0) {
        metadata = await this.#intercept(entity, message, metadata)
      }
      const events = this.#decide(entity, command, metadata)
      if (events.length === 0) return this.#answerWithoutEvents(entity, message, options.commandId, hash)
      // With a live actor to apply to, the final state is computed there after the commit.
      const trial = validateEvents(
        aggregate,
        pid,
        command.type,
        entity.state!,
        events,
        entity.ref === undefined,
      )
      const request = {
        persistenceId: pid,
        expectedSeqNr: entity.seqNr,
        events: toNewEvents(aggregate, events, metadata),
      }
      // The last point an abort is honoured: once the events are handed to the journal they may be written,
      // and a retry with the same commandId gets the outcome.
      if (options.signal?.aborted) throw aborted(pid, command.type, 'before its events were written')
      const write: CommandWrite = { message, metadata, done: false }
      let outcome: AppendOutcome | undefined
      try {
        ;[outcome] = await this.#options.journal.append([request])
      } catch (error) {
        return this.#appendFailed(entity, write, error)
      }
      this.#appended(entity, write, outcome, events, trial)
    } catch (error) {
      this.#refuse(entity, message, toStatesourceError(error, pid), metadata)
    } finally {
      this.#active--
    }
  }

  /** The command's metadata: the caller's, a correlation id, and the writer id. */
  #metadataOf(options: SendOptions): EventMetadata {
    const metadata: EventMetadata = options.metadata ? { ...options.metadata } : {}
    metadata.correlationId ??= this.#options.nextCorrelationId()
    if (this.#options.writerId !== undefined) metadata.writerId = this.#options.writerId
    return metadata
  }

  async #intercept(
    entity: Entity,
    message: GatewayCommandEvent,
    metadata: EventMetadata,
  ): Promise<EventMetadata> {
    const { command, options } = message
    const intercepted = await runInterceptors(this.#options.extensions.interceptors, {
      command,
      metadata,
      aggregateType: entity.aggregate.type,
      id: entity.id,
      persistenceId: entity.pid,
      state: entity.state!,
      version: entity.seqNr,
    })
    // Interceptors may take long (an actor, a remote check): an abort meanwhile still prevents the write.
    if (options?.signal?.aborted) throw aborted(entity.pid, command.type, 'while its interceptors ran')
    const { scope } = this.#options
    if (scope.inspecting)
      scope.emit('@statesource.command', {
        persistenceId: entity.pid,
        command,
        phase: 'intercepted',
        correlationId: intercepted.correlationId,
        commandId: options?.commandId,
      })
    return intercepted
  }

  /** A retry of a command already answered: its first result again, its events read back from the journal. */
  async #answerAgain(entity: Entity, message: GatewayCommandEvent, earlier: CommandRecord): Promise<void> {
    const { idempotency, journal } = this.#options
    this.#finish(entity, message, await idempotency.earlierResult(journal, entity.pid, earlier, entity.seqNr))
  }

  #decide(
    entity: Entity,
    command: { readonly type: string },
    metadata: EventMetadata,
  ): readonly DomainEvent[] {
    return runDecide(entity.aggregate, command, entity.state!, {
      id: entity.id,
      persistenceId: entity.pid,
      version: entity.seqNr,
      metadata,
    })
  }

  /** `decide` produced no events: nothing goes to the journal, and the command id is remembered in memory. */
  #answerWithoutEvents(
    entity: Entity,
    message: GatewayCommandEvent,
    commandId: string | undefined,
    hash: string | undefined,
  ): void {
    if (commandId !== undefined && hash !== undefined) {
      this.#options.idempotency.rememberUnwritten(entity, commandId, hash, entity.seqNr)
    }
    this.#finish(entity, message, {
      persistenceId: entity.pid,
      events: [],
      version: entity.seqNr,
      ordering: 0,
      duplicate: false,
    })
  }

  /** The journal answered: the outcome goes to the gateway, which applies it in its next transition. */
  #appended(
    entity: Entity,
    write: CommandWrite,
    outcome: AppendOutcome | undefined,
    events: readonly DomainEvent[],
    trial: AnyMachineSnapshot | undefined,
  ): void {
    const { pid } = entity
    if (!outcome)
      throw new StatesourceError('JOURNAL_FAILURE', `The journal returned no outcome for "${pid}".`)
    if (!outcome.ok) return this.#appendFailed(entity, write, outcome.error)
    this.#options.scope.post({
      type: 'statesource.persisted',
      pid,
      generation: entity.generation,
      write,
      envelopes: outcome.envelopes,
      events,
      trial,
    })
    if (!write.done) {
      // The gateway stopped (or the entity was replaced) before it could apply: the events are durable.
      const last = outcome.envelopes.at(-1)!
      this.#options.replies.command(write.message, {
        persistenceId: pid,
        events: outcome.envelopes,
        version: last.seqNr,
        ordering: last.ordering,
        duplicate: false,
      })
    }
  }

  #appendFailed(entity: Entity, write: CommandWrite, error: unknown): void {
    this.#options.scope.post({
      type: 'statesource.persist-failed',
      pid: entity.pid,
      generation: entity.generation,
      write,
      error,
    })
    // The gateway stopped meanwhile and will not handle that message: the caller still gets its answer.
    if (!write.done) this.#options.replies.command(write.message, toStatesourceError(error, entity.pid))
  }

  /** The command failed before its events were written (or was rejected): nothing was written. */
  #refuse(
    entity: Entity,
    message: GatewayCommandEvent,
    failure: StatesourceError,
    metadata: EventMetadata,
  ): void {
    const { stats, scope } = this.#options
    if (failure.code === 'COMMAND_REJECTED' || failure.code === 'UNKNOWN_COMMAND') stats.rejected++
    else stats.failed++
    if (scope.inspecting)
      scope.emit('@statesource.command', {
        persistenceId: entity.pid,
        command: message.command,
        phase: failure.code === 'COMMAND_REJECTED' ? 'rejected' : 'failed',
        error: failure.message,
        correlationId: metadata.correlationId,
        commandId: message.options?.commandId,
        ...(failure instanceof CommandRejectedError
          ? { source: failure.source, rejectedBy: failure.rejectedBy }
          : {}),
      })
    this.#finish(entity, message, failure, metadata)
  }

  /**
   * Applies committed events to the live actor (custom actions run there, once, and inspection sees the
   * domain events) and takes its state. The failure of the live actor, if any, is returned.
   */
  #applyToLive(
    entity: Entity,
    events: readonly DomainEvent[],
    trial: AnyMachineSnapshot | undefined,
  ): unknown {
    const ref = entity.ref
    if (!ref) {
      entity.state = trial ?? foldLive(entity, events)
      return undefined
    }
    // Sent as the gateway, so inspectors draw gateway -> aggregate arrows (`sourceId`).
    for (const event of events) this.#options.scope.sendAs(ref, event)
    const snapshot: AnyMachineSnapshot = ref.getSnapshot()
    if (snapshot.status === 'error' && snapshot.error !== undefined) return snapshot.error
    if (snapshot.status === 'active' || snapshot.status === 'done') entity.state = snapshot
    else if (snapshot.status !== 'error') entity.state = trial ?? foldLive(entity, events)
    const live = entity.state
    if (trial && live && live !== trial && !sameStateValue(live.value, trial.value)) {
      // Live and trial states must agree; if they do not, a machine is non-deterministic.
      return new StatesourceError(
        'RECOVERY_FAILED',
        `The live actor of "${entity.pid}" reached ${JSON.stringify(live.value)} but the replayed chart reached ${JSON.stringify(trial.value)}: the machine is not deterministic.`,
      )
    }
    return undefined
  }

  /** After commit: inspection, listeners (in order, per event), the reply, then the async taps. */
  #afterCommit(
    aggregateType: string,
    id: string,
    pid: string,
    write: CommandWrite,
    persisted: PersistedMessage,
    result: SendResult,
  ): void {
    const { scope, extensions, replies } = this.#options
    const { metadata, message } = write
    const { envelopes, events } = persisted
    if (scope.inspecting) {
      const inspected = {
        persistenceId: pid,
        seqNr: result.version,
        ordering: result.ordering,
        events: events.map((e) => e.type),
        correlationId: metadata.correlationId,
        commandId: metadata.commandId,
      }
      scope.emit('@statesource.persisted', inspected)
      scope.emit('@statesource.command', { ...inspected, command: message.command, phase: 'persisted' })
    }
    extensions.runListeners(aggregateType, pid, events, envelopes, metadata.correlationId)
    replies.command(message, result)
    extensions.publishCommitted(aggregateType, id, pid, message.command, metadata, envelopes, events)
  }

  /** Answers the entity's command and moves on to its next one. */
  #finish(
    entity: Entity,
    message: GatewayCommandEvent,
    result: SendResult | StatesourceError,
    metadata?: EventMetadata,
  ): void {
    this.#options.replies.command(message, result, metadata)
    if (this.#options.entities.holds(entity) && entity.phase === 'busy') this.#resume(entity)
  }

  /** The entity's command is answered: it takes its next one, and the gateway may passivate over the bound. */
  #resume(entity: Entity): void {
    entity.phase = 'ready'
    entity.lastUsed = Date.now()
    this.pump(entity)
    this.#options.passivation.evictOverflow()
  }
}

/** The journal's form of decided events: payload apart from type, with the event's version and tags. */
function toNewEvents(
  aggregate: AnyAggregate,
  events: readonly DomainEvent[],
  metadata: EventMetadata,
): NewEvent[] {
  return events.map((event) => {
    const { type, ...payload } = event
    return { type, version: aggregate.eventVersion(type), payload, tags: aggregate.tagsFor(event), metadata }
  })
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
    if (!sameStateValue(Reflect.get(a, key), Reflect.get(b, key))) return false
  }
  return true
}

function toStatesourceError(error: unknown, pid: string): StatesourceError {
  if (isStatesourceError(error)) return error
  return new StatesourceError(
    'JOURNAL_FAILURE',
    `Writing to the journal for "${pid}" failed: ${(error as Error)?.message ?? error}`,
    { cause: error },
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
