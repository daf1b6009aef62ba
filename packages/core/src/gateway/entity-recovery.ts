// Hot path: measured by packages/bench/src/cases/statesource-case.ts and packages/bench/src/cases/recovery-case.ts (pnpm bench). Measure before and after changing this file.
import type { AnyMachineSnapshot } from 'xstate'
import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import { foldEvents } from '../aggregate/replay.ts'
import type { EventCodecRegistry } from '../codec/event-codec-registry.ts'
import { isStatesourceError, RecoveryError, type StatesourceError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { EventEnvelope } from '../persistence/envelope.ts'
import type { Journal, RecoveryRead } from '../persistence/journal.ts'
import type { SnapshotStore } from '../persistence/snapshot-store.ts'
import type { Entities, Entity } from './entity.ts'
import { readSnapshotBody } from './entity-snapshots.ts'
import type { GatewayScope } from './gateway-scope.ts'
import type { GatewayStats } from './gateway-stats.ts'
import type { CommandRecord, Idempotency } from './idempotency.ts'
import type { QueuedMessage, RecoveredMessage, RecoveryFailedMessage } from './messages.ts'
import type { RecoveryPermits } from './recovery-permits.ts'

/** Options of {@link EntityRecovery}. */
export interface EntityRecoveryConfig {
  readonly journal: Journal
  readonly snapshotStore: SnapshotStore | undefined
  readonly codecs: EventCodecRegistry | undefined
  readonly permits: RecoveryPermits
  readonly idempotency: Idempotency
  readonly entities: Entities
  readonly scope: GatewayScope
  readonly stats: GatewayStats
  readonly logger: Logger
  /** Recoveries are not awaited by anyone; `drain()` waits for what it tracks. */
  readonly track: (promise: Promise<unknown>) => void
  /** A recovered entity can serve its queue. */
  readonly ready: (entity: Entity) => void
  /** Answers a message that waited for an entity whose recovery failed. */
  readonly answer: (message: QueuedMessage, error: StatesourceError) => void
}

/** Where folding starts: the initial state, or a snapshot's. */
interface StartingPoint {
  readonly state: AnyMachineSnapshot
  readonly fromSeqNr: number
  readonly snapshotSeqNr: number | undefined
  readonly commandIds: readonly (readonly [string, CommandRecord])[]
}

/** A snapshot of another machine version: not used, unless the events it covers were deleted. */
interface OlderSnapshot {
  readonly seqNr: number
  readonly machine: unknown
  readonly version: string
  readonly commandIds: readonly (readonly [string, CommandRecord])[]
}

/**
 * Brings an aggregate into memory: its newest usable snapshot, then the journal's events after it, in one
 * consistent read, folded through the machine without effects. At most `recoveryPermits` run at once.
 * The outcome is posted to the gateway, which then starts the aggregate's live actor and its queue.
 */
export class EntityRecovery {
  readonly #config: EntityRecoveryConfig

  constructor(config: EntityRecoveryConfig) {
    this.#config = config
  }

  /** Starts recovering a new entity (commands queue on it meanwhile). */
  start(entity: Entity): void {
    this.#config.track(this.#recover(entity))
  }

  onRecovered(message: RecoveredMessage): void {
    const { entities, stats, scope } = this.#config
    const entity = entities.current(message.pid, message.generation)
    if (!entity) return
    entities.recovered(entity, message.state, message.seqNr)
    stats.recoveries++
    stats.eventsReplayed += message.replayed
    if (message.snapshotSeqNr !== undefined) stats.recoveriesFromSnapshot++
    const child = scope.attached
      ? scope.createChild(entity.aggregate.machine, {
          id: entity.pid,
          systemId: `statesource:${entity.pid}`,
          persisted: entity.aggregate.runtime.persist(message.state),
        })
      : undefined
    if (child) {
      entity.ref = child
      // Started once this transition is complete, as XState starts the children a machine spawns.
      scope.defer(() => {
        if (entity.ref === child) child.start()
      })
    }
    scope.emit('@statesource.recovered', {
      persistenceId: entity.pid,
      seqNr: entity.seqNr,
      eventsReplayed: message.replayed,
      snapshotSeqNr: message.snapshotSeqNr,
      durationMs: Date.now() - message.startedAt,
    })
    this.#config.ready(entity)
  }

  onRecoveryFailed(message: RecoveryFailedMessage): void {
    const { entities, scope, logger } = this.#config
    const entity = entities.current(message.pid, message.generation)
    if (!entity) return
    const waiting = entities.drop(entity)
    logger.error(message.error.message, { persistenceId: entity.pid, error: message.error })
    scope.emit('@statesource.recovery-failed', { persistenceId: entity.pid, error: message.error.message })
    for (const queued of waiting) this.#config.answer(queued, message.error)
  }

  async #recover(entity: Entity): Promise<void> {
    const startedAt = Date.now()
    const release = await this.#config.permits.acquire()
    try {
      const store = this.#config.snapshotStore
      const { start, older } = store
        ? await this.#fromSnapshot(store, entity.aggregate, entity.pid)
        : { start: initialPoint(entity.aggregate), older: undefined }
      // One consistent read: with two reads, another process appending in between would make its events
      // look deleted (counted by the second read, missing from the first).
      const read = await this.#config.journal.readForRecovery(entity.pid, { fromSeqNr: start.fromSeqNr })
      this.#config.scope.post(this.#fold(entity, start, older, read, startedAt))
    } catch (error) {
      const failed: RecoveryFailedMessage = {
        type: 'statesource.recovery-failed',
        pid: entity.pid,
        generation: entity.generation,
        error: isStatesourceError(error)
          ? error
          : new RecoveryError(
              entity.pid,
              `Recovering "${entity.pid}" failed: ${(error as Error)?.message ?? error}`,
              {
                cause: error,
              },
            ),
      }
      this.#config.scope.post(failed)
    } finally {
      release()
    }
  }

  /** Folds what was read (the snapshot's starting point and the journal's events) into the recovered state. */
  #fold(
    entity: Entity,
    start: StartingPoint,
    older: OlderSnapshot | undefined,
    read: RecoveryRead,
    startedAt: number,
  ): RecoveredMessage {
    const { aggregate, pid } = entity
    const from = older ? this.#coverDeletedEvents(aggregate, pid, start, older, read) : start
    const envelopes =
      from === start ? read.events : read.events.filter((envelope) => envelope.seqNr >= from.fromSeqNr)
    checkContinuity(pid, from.fromSeqNr, envelopes, read.highestSeqNr)
    const state = foldEvents(aggregate, this.#config.codecs, from.state, envelopes)
    entity.commandIds = this.#config.idempotency.recover(from.commandIds, envelopes)
    entity.eventsSinceSnapshot = envelopes.length
    return {
      type: 'statesource.recovered',
      pid,
      generation: entity.generation,
      state,
      seqNr: envelopes.at(-1)?.seqNr ?? from.fromSeqNr - 1,
      replayed: envelopes.length,
      snapshotSeqNr: from.snapshotSeqNr,
      startedAt,
    }
  }

  /** The snapshot to start from, if one of this machine version restores; and one of another version. */
  async #fromSnapshot(
    store: SnapshotStore,
    aggregate: AnyAggregate,
    pid: string,
  ): Promise<{ start: StartingPoint; older: OlderSnapshot | undefined }> {
    let stored: Awaited<ReturnType<typeof store.load>>
    try {
      stored = await store.load(pid)
    } catch (error) {
      this.#config.logger.warn(
        `Loading the snapshot of "${pid}" failed; recovering from the journal alone.`,
        {
          error,
        },
      )
    }
    const body = readSnapshotBody(stored)
    if (!stored || !body) return { start: initialPoint(aggregate), older: undefined }
    const commandIds = body.dedupe ?? []
    if (stored.machineVersion !== aggregate.version) {
      return {
        start: initialPoint(aggregate),
        older: { seqNr: stored.seqNr, machine: body.machine, version: stored.machineVersion, commandIds },
      }
    }
    try {
      const state = aggregate.runtime.restore(body.machine)
      return {
        start: { state, fromSeqNr: stored.seqNr + 1, snapshotSeqNr: stored.seqNr, commandIds },
        older: undefined,
      }
    } catch (error) {
      this.#config.logger.warn(`The snapshot of "${pid}" could not be restored; replaying the journal.`, {
        error,
      })
      return { start: initialPoint(aggregate), older: undefined }
    }
  }

  /**
   * Deleted events (deleteTo) that no usable snapshot covers cannot be folded: serving the aggregate from a
   * partial history would be wrong, so recovery fails instead of starting from a gap. One exception: the
   * snapshot the deletion relied on, written by an older machine version. Refolding is impossible (its
   * events are gone), so it is the aggregate's history and is restored with the new machine.
   */
  #coverDeletedEvents(
    aggregate: AnyAggregate,
    pid: string,
    start: StartingPoint,
    older: OlderSnapshot,
    read: RecoveryRead,
  ): StartingPoint {
    const first = read.events[0]
    if (start.fromSeqNr !== 1 || first?.seqNr === 1) return start
    // Events 1..gapTo are deleted.
    const gapTo = first ? first.seqNr - 1 : read.highestSeqNr
    if (gapTo < 1 || older.seqNr < gapTo) return start
    let state: AnyMachineSnapshot
    try {
      // Another version's chart may lack the snapshot's states; restoring would not notice, resolving does.
      const persisted = older.machine as { value?: unknown; context?: unknown }
      aggregate.machine.resolveState({ value: persisted.value as never, context: persisted.context as never })
      state = aggregate.runtime.restore(older.machine)
    } catch (error) {
      throw new RecoveryError(
        pid,
        `Events 1..${gapTo} of "${pid}" were deleted and the snapshot that covers them was written by machine version "${older.version}", which version "${aggregate.version}" cannot restore: ${(error as Error)?.message ?? error}. Keep the states and context the snapshot names in the new machine, or restore the deleted events.`,
        { cause: error },
      )
    }
    this.#config.logger.warn(
      `Recovered "${pid}" from its snapshot of machine version "${older.version}" at event ${older.seqNr} (the current version is "${aggregate.version}"): the events it covers were deleted, so it cannot be refolded.`,
      { persistenceId: pid },
    )
    return { state, fromSeqNr: older.seqNr + 1, snapshotSeqNr: older.seqNr, commandIds: older.commandIds }
  }
}

function initialPoint(aggregate: AnyAggregate): StartingPoint {
  return { state: aggregate.runtime.initial(), fromSeqNr: 1, snapshotSeqNr: undefined, commandIds: [] }
}

/** The events to fold must follow the starting point without a gap, and the journal must reach it. */
function checkContinuity(
  pid: string,
  fromSeqNr: number,
  envelopes: readonly EventEnvelope[],
  highest: number,
): void {
  const first = envelopes[0]
  if (first && first.seqNr !== fromSeqNr) throw deletedHistory(pid, fromSeqNr, first.seqNr - 1)
  if (first) return
  if (highest > fromSeqNr - 1) throw deletedHistory(pid, fromSeqNr, highest)
  if (highest < fromSeqNr - 1) {
    throw new RecoveryError(
      pid,
      `The snapshot of "${pid}" is at event ${fromSeqNr - 1} but its journal ends at ${highest}: the snapshot belongs to another history. Delete the snapshot (or restore the matching journal) and retry.`,
    )
  }
}

function deletedHistory(pid: string, from: number, to: number): RecoveryError {
  return new RecoveryError(
    pid,
    `Events ${from}..${to} of "${pid}" were deleted and no snapshot covers them, so "${pid}" cannot be recovered. Delete events only up to the seqNr of a snapshot you keep (snapshotStore), or restore them.`,
  )
}
