import type { AppendRequest, NewEvent } from '../persistence/envelope.ts'

/**
 * A new event for `Journal.append` in tests: version 1 and empty metadata unless given.
 *
 * @example
 * ```ts
 * const deposited = newEvent('deposited', { amount: 5 }, ['account'])
 * const legacy = newEvent('deposited', { cents: '500' }, [], { version: 2 })
 * ```
 */
export function newEvent(
  type: string,
  payload: unknown = {},
  tags: readonly string[] = [],
  options: { version?: number; metadata?: NewEvent['metadata'] } = {},
): NewEvent {
  return { type, version: options.version ?? 1, payload, tags, metadata: options.metadata ?? {} }
}

/**
 * One request of a `Journal.append` call: `events` for `persistenceId`, which must be at `expectedSeqNr`
 * (0 for a new stream).
 *
 * @example
 * ```ts
 * const [outcome] = await journal.append([appendRequest('account|a-1', 0, [newEvent('opened')])])
 * ```
 */
export function appendRequest(
  persistenceId: string,
  expectedSeqNr: number,
  events: readonly NewEvent[],
): AppendRequest {
  return { persistenceId, expectedSeqNr, events }
}
