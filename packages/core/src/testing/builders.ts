import type { AppendRequest, EventMetadata, NewEvent } from '../persistence/envelope.ts'

/**
 * A new event for `Journal.append` in tests: no tags, version 1 and empty metadata unless given.
 *
 * @example
 * ```ts
 * const deposited = newEvent('deposited', { amount: 5 }, { tags: ['account'] })
 * const renamed = newEvent('deposited', { amount: 5 }, { version: 2, metadata: { userId: 'ada' } })
 * ```
 */
export function newEvent(
  type: string,
  payload: unknown = {},
  options: { tags?: readonly string[]; version?: number; metadata?: EventMetadata } = {},
): NewEvent {
  return {
    type,
    version: options.version ?? 1,
    payload,
    tags: options.tags ?? [],
    metadata: options.metadata ?? {},
  }
}

/**
 * One request of a `Journal.append` call: `events` for `persistenceId`, which must be at `expectedSeqNr`
 * (default 0: a new stream).
 *
 * @example
 * ```ts
 * const [opened] = await journal.append([appendRequest('account|a-1', [newEvent('opened')])])
 * const [next] = await journal.append([appendRequest('account|a-1', [newEvent('closed')], { expectedSeqNr: 1 })])
 * ```
 */
export function appendRequest(
  persistenceId: string,
  events: readonly NewEvent[],
  options: { expectedSeqNr?: number } = {},
): AppendRequest {
  return { persistenceId, expectedSeqNr: options.expectedSeqNr ?? 0, events }
}
