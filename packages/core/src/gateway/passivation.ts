// Hot path: measured by packages/bench/src/cases/statesource-case.ts (pnpm bench). Measure before and after changing this file.
import type { Entities, Entity } from './entity.ts'
import type { EntitySnapshots } from './entity-snapshots.ts'
import type { GatewayScope } from './gateway-scope.ts'
import type { GatewayStats } from './gateway-stats.ts'
import type { PassivateMessage } from './messages.ts'

/** Options of {@link Passivation}. */
export interface PassivationOptions {
  /** Passivate an aggregate after this long without commands (`Infinity`: never for idleness). */
  readonly idleMs: number
  /** The bound on aggregates in memory. */
  readonly maxLive: number
  readonly entities: Entities
  readonly snapshots: EntitySnapshots
  readonly scope: GatewayScope
  readonly stats: GatewayStats
}

/**
 * Takes idle aggregates out of memory: those idle for longer than the idle timeout (a timer posts a sweep to
 * the gateway), and the least recently used ones beyond `maxLive`. Each is snapshotted first, so that its
 * next recovery replays little. Aggregates that are recovering or have commands queued are never passivated.
 */
export class Passivation {
  readonly #options: PassivationOptions
  #sweeper: ReturnType<typeof setInterval> | undefined

  constructor(options: PassivationOptions) {
    this.#options = options
  }

  /** Starts the idle timer (once; none when the idle timeout is infinite). */
  start(): void {
    const { idleMs, scope } = this.#options
    if (this.#sweeper || !Number.isFinite(idleMs)) return
    const every = Math.max(10, Math.min(idleMs / 2, 30_000))
    this.#sweeper = setInterval(() => scope.post({ type: 'statesource.sweep' }), every)
    this.#sweeper.unref?.()
  }

  stop(): void {
    if (this.#sweeper) clearInterval(this.#sweeper)
    this.#sweeper = undefined
  }

  /** Passivates the aggregates idle for longer than the idle timeout. */
  sweep(): void {
    const cutoff = Date.now() - this.#options.idleMs
    for (const entity of this.#options.entities.leastRecentlyUsed()) {
      if (entity.lastUsed > cutoff) break // least recently used first: the rest are newer
      this.#passivate(entity, 'idle')
    }
  }

  /**
   * Passivates least recently used idle aggregates until at most `maxLive` are in memory. Runs when a new
   * aggregate is created and whenever a command is answered: aggregates that are recovering or have commands
   * queued cannot be passivated, so a burst of new ids exceeds the bound by at most the number of aggregates
   * busy at once, and each goes as soon as its last queued command is answered.
   */
  evictOverflow(): void {
    const { entities, maxLive } = this.#options
    if (entities.size <= maxLive) return
    for (const entity of entities.leastRecentlyUsed()) {
      if (entities.size <= maxLive) break
      this.#passivate(entity, 'lru')
    }
  }

  onPassivate(message: PassivateMessage): void {
    const entity = this.#options.entities.current(message.pid, message.generation)
    if (entity) this.#passivate(entity, message.reason)
  }

  /** Passivates an idle aggregate now; false if it is not live or is busy. */
  passivateNow(pid: string): boolean {
    const entity = this.#options.entities.get(pid)
    if (!entity || !isIdle(entity)) return false
    this.#passivate(entity, 'idle')
    return true
  }

  #passivate(entity: Entity, reason: 'idle' | 'lru'): void {
    if (!isIdle(entity)) return
    const { entities, snapshots, scope, stats } = this.#options
    snapshots.save(entity)
    entities.drop(entity)
    stats.passivated++
    scope.emit('@statesource.passivated', { persistenceId: entity.pid, reason })
  }
}

function isIdle(entity: Entity): boolean {
  return entity.phase === 'ready' && entity.queue.length === 0
}
