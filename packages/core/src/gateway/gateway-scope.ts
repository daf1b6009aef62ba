// Hot path: measured by packages/bench/src/cases/statesource-case.ts (pnpm bench). Measure before and after changing this file.
import { type AnyActorLogic, type AnyActorRef, type AnyActorScope, createActor } from 'xstate'
import type { InternalMessage } from './messages.ts'

/**
 * A pipeline event the gateway emits for each step of a command (`@statesource.command` with its `phase`,
 * `@statesource.persisted`, `@statesource.recovered`, `@statesource.listener-failed`, ...). Listen with
 * `handles.gateway.on('@statesource.command', (event) => ...)`, or `on('*', ...)` for all of them.
 */
export interface GatewayPipelineEvent {
  readonly type: `@statesource.${string}`
  readonly [key: string]: unknown
}

/**
 * The gateway's link to XState, as XState's own actor keeps its system apart: the actor scope the gateway
 * runs in (XState hands it to every transition), through which the gateway's parts post messages to it,
 * emit pipeline events, and create, stop and send to child actors. The only place in the gateway that
 * reaches past XState's public API, in two spots ({@link hasEmitListeners}, {@link GatewayScope.sendAs}).
 */
export class GatewayScope {
  #scope: AnyActorScope | undefined

  attach(scope: AnyActorScope): void {
    this.#scope = scope
  }

  /** Whether the gateway runs in an actor (its transition or start has been called). */
  get attached(): boolean {
    return this.#scope !== undefined
  }

  get self(): AnyActorRef | undefined {
    return this.#scope?.self
  }

  /**
   * Sends a message to the gateway itself, handled in a later transition, in mailbox order. Once the gateway
   * has stopped (an append that settles after `stop()`), the message is dropped here: XState would drop it
   * too, with a development-build warning about an event sent to a stopped actor.
   */
  post(message: InternalMessage): void {
    const self = this.#scope?.self
    if (self && self.getSnapshot().status !== 'stopped') self.send(message)
  }

  /**
   * Whether pipeline events (`@statesource.*`) are built: only while someone listens to the gateway's
   * emitted events (`gateway.on(...)`), which saves their allocations on every command otherwise.
   */
  get inspecting(): boolean {
    const self = this.#scope?.self
    return self === undefined || hasEmitListeners(self)
  }

  /**
   * Pipeline events are the gateway's emitted events (`gateway.on('@statesource.command', ...)`), not
   * inspection events: XState inspectors (the Stately inspector included) only know `@xstate.*` ones.
   */
  emit(type: string, data: Record<string, unknown>): void {
    this.#scope?.emit({ type, ...data })
  }

  /**
   * An aggregate's live actor, restored from its persisted snapshot, not started yet; undefined while the
   * gateway runs in no actor.
   */
  createChild(
    logic: AnyActorLogic,
    options: { readonly id: string; readonly systemId: string; readonly persisted: unknown },
  ): AnyActorRef | undefined {
    const scope = this.#scope
    if (!scope) return undefined
    return createActor(logic, {
      parent: scope.self,
      id: options.id,
      systemId: options.systemId,
      // The machine's own persisted form (MachineRuntime.persist), which XState's types cannot name.
      snapshot: options.persisted as never,
    })
  }

  /** Creates and starts a child actor (an extension's: an interceptor or a tap). The gateway must be running. */
  startChild(logic: AnyActorLogic, id: string): AnyActorRef {
    const scope = this.#scope
    if (!scope) throw new Error(`Cannot start "${id}": the gateway runs in no actor.`)
    const child = createActor(logic, { parent: scope.self, id })
    child.start()
    return child
  }

  /** Runs `fn` once the current transition is complete (XState's deferred effects). */
  defer(fn: () => void): void {
    this.#scope?.defer(fn)
  }

  /** Stops a child actor; throws what XState throws when it cannot. */
  stopChild(ref: AnyActorRef): void {
    if (this.#scope) this.#scope.stopChild(ref)
    else ref.stop()
  }

  /**
   * Sends an event to a child as the gateway, so that inspectors see the gateway as its source (`sourceRef`
   * of the `@xstate.event` inspection event) and draw a gateway → aggregate arrow.
   *
   * @remarks XState's private `system._relay(source, target, event)` is the only way to do that: `ref.send()`
   * reports no source, and the public scheduler (`system.scheduler.schedule`) delivers on a timer, while the
   * gateway reads the child's state right after sending. XState's own `sendTo` action uses `_relay` the same
   * way. Without it the event is sent plainly (no arrow, same outcome); `test/gateway/gateway-scope.test.ts`
   * fails if XState removes or changes it.
   */
  sendAs(target: AnyActorRef, event: { readonly type: string }): void {
    const scope = this.#scope
    const system = scope?.system
    if (scope && system && '_relay' in system && typeof system._relay === 'function') {
      system._relay(scope.self, target, event)
    } else {
      target.send(event)
    }
  }
}

/**
 * Whether anyone listens to an actor's emitted events (`actor.on(...)`).
 *
 * @remarks XState has no public way to ask: it keeps `on()` subscriptions in the actor's private
 * `eventListeners` map (an unsubscribed listener leaves its type's empty set behind). Where the map is
 * missing, the answer is yes, so pipeline events are always built: slower, never wrong.
 * `test/gateway/gateway-scope.test.ts` fails if XState removes or renames it.
 */
export function hasEmitListeners(actor: AnyActorRef): boolean {
  const listeners = 'eventListeners' in actor ? actor.eventListeners : undefined
  return !(listeners instanceof Map) || listeners.size > 0
}
