// Hot path: measured by packages/bench/src/cases/statesource-case.ts (pnpm bench). Measure before and after changing this file.
import type { ActorLogic, ActorSystem, AnyActorScope, Snapshot } from 'xstate'
import type { GatewayConfig } from './gateway-config.ts'
import { GatewayRuntime } from './gateway-runtime.ts'
import type { GatewayPipelineEvent } from './gateway-scope.ts'
import type { GatewayStats } from './gateway-stats.ts'
import type { GatewayEvent } from './messages.ts'

/**
 * The gateway actor's snapshot. `context.runtime` is internal; `toJSON()` and `getPersistedSnapshot` keep
 * only the status and the counters, so inspectors and serializers see a few bytes, not the runtime.
 */
export type GatewaySnapshot = Snapshot<undefined> & {
  context: { readonly runtime: GatewayRuntime; readonly stats: GatewayStats }
}

type AnyActorSystem = ActorSystem<any>

/** The gateway's actor logic type. */
export type GatewayLogic = ActorLogic<
  GatewaySnapshot,
  GatewayEvent,
  any,
  AnyActorSystem,
  GatewayPipelineEvent
>

function freshSnapshot(config: GatewayConfig, scope: AnyActorScope): GatewaySnapshot {
  const runtime = new GatewayRuntime(config)
  runtime.attach(scope)
  return {
    status: 'active',
    output: undefined,
    error: undefined,
    context: { runtime, stats: runtime.stats },
    // What inspectors and JSON.stringify see: the counters, not the live runtime (machines, journal, ...).
    toJSON(this: GatewaySnapshot) {
      return { status: this.status, context: { stats: { ...this.context.stats } } }
    },
  } as GatewaySnapshot
}

/**
 * Creates the gateway supervisor: a custom XState `ActorLogic` that owns one child actor per aggregate id.
 * Spawn it inside your own system (`spawnChild(topology.gateway, { systemId: 'gateway' })`) or let
 * `materialize()` start it.
 */
export function createGatewayLogic(config: GatewayConfig): GatewayLogic {
  return {
    config: undefined,
    transition(snapshot, event, scope) {
      if (snapshot.status !== 'active') return snapshot
      snapshot.context.runtime.attach(scope)
      // Typed as a GatewayEvent, but anything may be sent to an actor: the runtime checks it.
      snapshot.context.runtime.handle(event)
      if (event.type === 'xstate.stop')
        return { ...snapshot, status: 'stopped', output: undefined, error: undefined } as GatewaySnapshot
      return snapshot
    },
    getInitialSnapshot: (scope) => freshSnapshot(config, scope),
    start(snapshot, scope) {
      snapshot.context.runtime.attach(scope)
      snapshot.context.runtime.start()
    },
    getPersistedSnapshot(snapshot) {
      return { status: snapshot.status, context: { stats: { ...snapshot.context.stats } } } as never
    },
    // A persisted gateway holds only counters: it restarts with no live aggregates, which recover lazily.
    restoreSnapshot: (_persisted, scope) => freshSnapshot(config, scope),
  }
}
