import type { DomainEvent } from '../codec/event-codec-registry.ts'
import type { EventEnvelope } from '../persistence/envelope.ts'

/** Runs after commit, before the reply, for each persisted event. A throwing listener is reported, never fatal. */
export type ListenerFn = (event: DomainEvent, envelope: EventEnvelope) => void

/** A named listener, optionally limited to some aggregate types. */
export interface Listener {
  readonly name: string
  readonly onEvent: ListenerFn
  readonly aggregates?: readonly string[]
}

/** Normalises a function or a listener object. */
export function toListener(input: Listener | ListenerFn, index: number): Listener {
  if (typeof input === 'function') return { name: input.name || `listener-${index + 1}`, onEvent: input }
  if (!input || typeof input.onEvent !== 'function') {
    throw new TypeError(`Listener ${index + 1} must be a function or { name, onEvent }.`)
  }
  return input
}
