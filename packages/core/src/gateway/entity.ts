// Hot path: measured by packages/bench/src/cases/statesource-case.ts and packages/bench/src/cases/recovery-case.ts (pnpm bench). Measure before and after changing this file.
import type { AnyActorRef, AnyMachineSnapshot } from 'xstate'
import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import type { GatewayScope } from './gateway-scope.ts'
import type { GatewayStats } from './gateway-stats.ts'
import type { CommandRecords } from './idempotency.ts'
import type { QueuedMessage } from './messages.ts'

/**
 * One aggregate in memory: recovering, then serving one command at a time (`busy`) with the rest queued.
 * `generation` tells it from an earlier entity of the same aggregate that was dropped.
 */
export interface Entity {
  readonly pid: string
  readonly id: string
  readonly aggregate: AnyAggregate
  readonly generation: number
  phase: 'recovering' | 'ready' | 'busy'
  /** The aggregate's state; undefined while recovering. */
  state: AnyMachineSnapshot | undefined
  /** Its live actor, a child of the gateway (none while recovering, or when the gateway runs in no actor). */
  ref: AnyActorRef | undefined
  seqNr: number
  eventsSinceSnapshot: number
  readonly queue: QueuedMessage[]
  lastUsed: number
  commandIds: CommandRecords | undefined
}

/**
 * The entities in memory by persistence id, least recently used first (a `Map` keeps insertion order; a
 * command moves its entity to the end). It keeps the `live` and `recovering` counters.
 */
export class Entities {
  readonly #byPid = new Map<string, Entity>()
  readonly #stats: GatewayStats
  readonly #scope: GatewayScope
  #generation = 0

  constructor(stats: GatewayStats, scope: GatewayScope) {
    this.#stats = stats
    this.#scope = scope
  }

  get size(): number {
    return this.#byPid.size
  }

  get(pid: string): Entity | undefined {
    return this.#byPid.get(pid)
  }

  /** The entity a posted message is about, unless it was dropped (and perhaps created again) meanwhile. */
  current(pid: string, generation: number): Entity | undefined {
    const entity = this.#byPid.get(pid)
    return entity?.generation === generation ? entity : undefined
  }

  /** Whether this entity is still the one in memory for its aggregate. */
  holds(entity: Entity): boolean {
    return this.#byPid.get(entity.pid) === entity
  }

  /** The persistence ids in memory, least recently used first. */
  pids(): string[] {
    return [...this.#byPid.keys()]
  }

  /** A copy of the entities, least recently used first, to iterate while dropping some. */
  leastRecentlyUsed(): Entity[] {
    return [...this.#byPid.values()]
  }

  /** Whether an entity is recovering, processing or has commands waiting. */
  anyBusy(): boolean {
    for (const entity of this.#byPid.values())
      if (entity.phase !== 'ready' || entity.queue.length) return true
    return false
  }

  /** A new entity, recovering: the caller starts its recovery. */
  create(aggregate: AnyAggregate, id: string, pid: string): Entity {
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
      commandIds: undefined,
    }
    this.#byPid.set(pid, entity)
    this.#stats.recovering++
    return entity
  }

  /** Moves an entity to the most recently used end. */
  touch(entity: Entity): void {
    this.#byPid.delete(entity.pid)
    this.#byPid.set(entity.pid, entity)
    entity.lastUsed = Date.now()
  }

  /** A recovered entity serves commands from now on. */
  recovered(entity: Entity, state: AnyMachineSnapshot, seqNr: number): void {
    this.#stats.recovering--
    this.#stats.live++
    entity.seqNr = seqNr
    entity.state = state
    entity.phase = 'ready'
  }

  /**
   * Takes an entity out of memory: stops its live actor and returns the messages that waited for it, for
   * the caller to answer or queue again. The one way an entity leaves (passivation, a failure, a stop).
   */
  drop(entity: Entity): QueuedMessage[] {
    const waiting = entity.queue.splice(0)
    this.#stopChild(entity)
    this.#byPid.delete(entity.pid)
    if (entity.phase === 'recovering') this.#stats.recovering--
    else this.#stats.live--
    return waiting
  }

  #stopChild(entity: Entity): void {
    const ref = entity.ref
    entity.ref = undefined
    if (!ref) return
    try {
      this.#scope.stopChild(ref)
    } catch {
      ref.stop()
    }
  }
}
