import type { Observable } from 'rxjs'
import type { AnyActorRef } from 'xstate'
import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import type { EventCodecRegistry } from '../codec/event-codec-registry.ts'
import type { TapHub, TappedCommand, TapStatus } from '../extensions/tap.ts'
import type { GatewaySnapshot, GatewayStats } from '../gateway/gateway-logic.ts'
import type { EventEnvelope } from '../persistence/envelope.ts'
import type { Repository } from '../repository/repository.ts'
import type { CqrsSettings } from './cqrs-pattern.ts'

/** @internal */
export interface CqrsHandlesInit {
  gateway: AnyActorRef
  owned: boolean
  settings: Readonly<CqrsSettings>
  taps: TapHub
  codecs: EventCodecRegistry
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
      throw new TypeError(
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

  /** @internal called by modules that need to stop with the handles (readers, schedulers). */
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
