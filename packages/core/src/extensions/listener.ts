import type { DomainEvent } from '../codec/event-codec-registry.ts'
import { NotConfiguredError } from '../errors.ts'
import type { EventEnvelope } from '../persistence/envelope.ts'

/**
 * Runs after commit, before the reply, for each persisted event, in registration order. A listener that
 * throws is reported (logger and a `'@statesource.listener-failed'` event the gateway emits), never fatal:
 * the command still succeeds because its events are durable.
 *
 * @remarks Listeners are synchronous: they run inside the gateway's one-at-a-time processing, so keep them
 * fast. What a listener returns is ignored (so `(e) => list.push(e)` is fine); a returned promise is not
 * awaited (use a tap for async work), but its rejection is reported the same way. With the builder's
 * `onEvent`, `event` is typed as the union of the registered aggregates' events.
 *
 * @example
 * ```ts
 * const count: ListenerFn = (event, envelope) => console.log(envelope.persistenceId, event.type)
 * ```
 */
export type ListenerFn<TEvent extends { readonly type: string } = DomainEvent> = (
  event: TEvent,
  envelope: EventEnvelope,
) => unknown

/**
 * A named listener, optionally limited to some aggregate types.
 *
 * @example
 * ```ts
 * const metrics: Listener = { name: 'metrics', aggregates: ['account'], onEvent: (e) => counter.inc(e.type) }
 * ```
 */
export interface Listener<TEvent extends { readonly type: string } = DomainEvent> {
  readonly name: string
  readonly onEvent: ListenerFn<TEvent>
  readonly aggregates?: readonly string[]
}

/**
 * Normalises a function or a listener object.
 *
 * @example
 * ```ts
 * const named = toListener(function audit() {}, 0) // { name: 'audit', onEvent }
 * ```
 */
export function toListener(input: Listener | ListenerFn, index: number): Listener {
  if (typeof input === 'function') return { name: input.name || `listener-${index + 1}`, onEvent: input }
  if (!input || typeof input.onEvent !== 'function') {
    throw new NotConfiguredError('listener', `Listener ${index + 1} must be a function or { name, onEvent }.`)
  }
  return input
}
