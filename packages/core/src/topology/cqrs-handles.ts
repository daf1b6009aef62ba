import type { Observable } from 'rxjs'
import type { AnyActorRef } from 'xstate'
import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import type { EventCodecRegistry } from '../codec/event-codec-registry.ts'
import { NotConfiguredError, StatesourceError } from '../errors.ts'
import type { TapHub, TappedCommand, TapStatus } from '../extensions/tap.ts'
import type { GatewaySnapshot } from '../gateway/gateway-logic.ts'
import type { GatewayStats } from '../gateway/gateway-stats.ts'
import type { EventEnvelope } from '../persistence/envelope.ts'
import type { DeadLetterStore } from '../read-side/dead-letter-store.ts'
import type { ProjectionHandle, ReaderStatus } from '../read-side/projection-handle.ts'
import { type ReadSideRuntime, unknownProjection } from '../read-side/read-side.ts'
import type { Repository } from '../repository/repository.ts'
import type { CqrsSettings } from './cqrs-settings.ts'

/** @internal */
export interface CqrsHandlesInit {
  gateway: AnyActorRef
  owned: boolean
  settings: Readonly<CqrsSettings>
  taps: TapHub
  codecs: EventCodecRegistry
  /** The running readers, when any are registered. */
  readSide: ReadSideRuntime | undefined
  repositoryFor: <A extends AnyAggregate>(aggregate: A) => Repository<A>
}

/**
 * Handles into a materialized CQRS instance: repositories, the gateway actor, projections, event streams
 * and a graceful `stop()`.
 */
export class CqrsHandles {
  readonly gateway: AnyActorRef
  readonly codecs: EventCodecRegistry
  /** @internal */
  readonly settings: Readonly<CqrsSettings>
  readonly #init: CqrsHandlesInit
  readonly #repositories = new Map<string, Repository<AnyAggregate>>()
  readonly #stopHooks: (() => Promise<void> | void)[] = []
  #stopped = false

  /** @internal handles come from `topology.materialize()`. */
  constructor(init: CqrsHandlesInit) {
    this.#init = init
    this.gateway = init.gateway
    this.codecs = init.codecs
    this.settings = init.settings
  }

  /** The repository of one registered aggregate type. */
  repository<A extends AnyAggregate>(aggregate: A): Repository<A> {
    const registered = this.settings.aggregates.find((a) => a.type === aggregate.type)
    if (!registered) {
      throw new NotConfiguredError(
        'aggregate',
        `Aggregate "${aggregate.type}" is not registered with this CQRS instance; add it with withAggregate().`,
      )
    }
    let repository = this.#repositories.get(aggregate.type)
    if (!repository) {
      repository = this.#init.repositoryFor(aggregate)
      this.#repositories.set(aggregate.type, repository)
    }
    return repository as Repository<A>
  }

  /** Every persisted envelope, after the reply (hot: subscribe before sending). */
  get events$(): Observable<EventEnvelope> {
    return this.#init.taps.events$
  }

  /** Every command outcome (persisted, rejected, failed), after the reply. */
  get commands$(): Observable<TappedCommand> {
    return this.#init.taps.commands$
  }

  /** Counters of every tap. */
  tapStatus(): TapStatus[] {
    return this.#init.taps.status()
  }

  /** Gateway counters: live aggregates, commands, persisted events, rejections, passivations. */
  get stats(): GatewayStats {
    return { ...(this.gateway.getSnapshot() as GatewaySnapshot).context.stats }
  }

  /** @internal the gateway's runtime, for tools and tests. */
  get runtime(): GatewaySnapshot['context']['runtime'] {
    return (this.gateway.getSnapshot() as GatewaySnapshot).context.runtime
  }

  /**
   * The handle of a reader added with `withReader`, by name.
   *
   * @example
   * ```ts
   * const totals = handles.projection<{ total: number }>('totals')
   * console.log(totals.state.total, totals.offset)
   * ```
   */
  projection<TState = unknown>(name: string): ProjectionHandle<TState> {
    const readSide = this.#init.readSide
    if (!readSide) throw unknownProjection(name, [])
    return readSide.handle(name) as ProjectionHandle<TState>
  }

  /** Every projection handle, in registration order. */
  get projections(): readonly ProjectionHandle<unknown>[] {
    return [...(this.#init.readSide?.handles.values() ?? [])]
  }

  /** Each reader's status (running, caught up, lag in events, halted with its error), with the lag computed now. */
  async readerStatus(): Promise<ReaderStatus[]> {
    return (await this.#init.readSide?.status()) ?? []
  }

  /**
   * Pauses a reader, resets its state and offset (and its read model through `reset`), replays the journal with
   * the same decoding and error policy, then resumes live. Resolves when it has caught up with the journal's
   * head as of the call; commands keep being served throughout.
   */
  async rebuildProjection(name: string): Promise<void> {
    return this.projection(name).rebuild()
  }

  /**
   * Deletes an aggregate's events up to and including `toSeqNr`, only if its newest stored snapshot covers
   * them (its `seqNr` is at least `toSeqNr`), so that the aggregate can always be recovered. This is the
   * checked way to trim a stream; `journal.deleteTo` is the unchecked primitive underneath.
   *
   * @example
   * ```ts
   * // With snapshotPolicy({ every: 100 }): once "account|acc-1" has 100 events, its snapshot covers them.
   * await handles.deleteEvents(account, 'acc-1', { toSeqNr: 100 })
   * ```
   *
   * @remarks Rejects with `NOT_CONFIGURED` without a snapshot store and with `INVALID_INPUT` when no stored
   * snapshot covers `toSeqNr`; nothing is deleted then. Projections that rebuild from the journal lose the
   * deleted events too.
   */
  async deleteEvents<A extends AnyAggregate>(
    aggregate: A,
    id: string,
    options: { readonly toSeqNr: number },
  ): Promise<void> {
    const pid = this.repository(aggregate).aggregate.persistenceId(id)
    const store = this.settings.snapshotStore
    if (!store) {
      throw new NotConfiguredError(
        'snapshotStore',
        `Deleting events of "${pid}" needs a snapshot store to recover it from afterwards: add snapshotStore(store) to the builder.`,
      )
    }
    const { toSeqNr } = options
    if (!(Number.isSafeInteger(toSeqNr) && toSeqNr >= 1)) {
      throw new StatesourceError('INVALID_INPUT', `toSeqNr must be an integer of at least 1, got ${toSeqNr}.`)
    }
    const snapshot = await store.load(pid)
    if (!snapshot || snapshot.seqNr < toSeqNr) {
      throw new StatesourceError(
        'INVALID_INPUT',
        `Deleting events 1..${toSeqNr} of "${pid}" would leave ${snapshot ? `events ${snapshot.seqNr + 1}..${toSeqNr}` : 'them'} covered by no snapshot (${snapshot ? `the newest is at event ${snapshot.seqNr}` : 'it has none'}), and "${pid}" could not be recovered. Delete only up to the newest snapshot's event, or after the snapshot policy wrote a later snapshot.`,
      )
    }
    await this.settings.journal.deleteTo(pid, toSeqNr)
  }

  /** Where readers park events they could not apply (error policy `'dead-letter'`). */
  get deadLetters(): DeadLetterStore | undefined {
    return this.#init.readSide?.deadLetters
  }

  /** @internal called by what needs to stop with the handles (readers, schedulers). */
  onStop(hook: () => Promise<void> | void): void {
    this.#stopHooks.push(hook)
  }

  /**
   * Graceful stop: stops accepting commands, finishes in-flight ones, stops readers and children.
   * Idempotent.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    const snapshot = this.gateway.getSnapshot() as GatewaySnapshot | undefined
    if (snapshot?.status === 'active') await snapshot.context.runtime.drain()
    for (const hook of this.#stopHooks.splice(0).reverse()) {
      try {
        await hook()
      } catch (error) {
        this.settings.logger.warn(`A stop hook failed: ${(error as Error)?.message ?? error}`, { error })
      }
    }
    if (this.#init.owned) this.gateway.stop()
    this.#init.taps.complete()
  }
}
