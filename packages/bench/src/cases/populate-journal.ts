import type { AppendRequest, Journal, NewEvent } from '@statesource/core'
import { probedCart } from '../cart-aggregate.ts'
import { type WorkloadSize, commandAt, decideCart } from '../cart-workload.ts'

/** The stored form of the event command `i` of a workload records (every workload command is accepted). */
export function eventAt(
  i: number,
  size: WorkloadSize,
  mapId: (cartId: string) => string = (id) => id,
): { persistenceId: string; event: NewEvent } {
  const { cartId: workloadId, command } = commandAt(i, size)
  const cartId = mapId(workloadId)
  const decision = decideCart(command, cartId, 'Opened', { items: 1, total: 1 })
  if ('rejected' in decision)
    throw new Error(`The workload's command ${i} was rejected: ${decision.rejected}`)
  const { type, ...payload } = decision
  return {
    persistenceId: probedCart.persistenceId(cartId),
    event: { type, version: 1, payload, tags: [], metadata: {} },
  }
}

/**
 * Writes the events of a whole workload straight into a journal, in large appends (not timed): the
 * recovery and read benchmarks need a populated journal, not the cost of filling it. `mapId` renames the
 * workload's cart ids (`cart-000042`).
 *
 * @example
 * ```ts
 * await populateJournal(sqlite.journal, { commands: 200_000, streams: 10_000 })
 * ```
 */
export async function populateJournal(
  journal: Pick<Journal, 'append'>,
  size: WorkloadSize,
  options: { eventsPerAppend?: number; mapId?: (cartId: string) => string } = {},
): Promise<void> {
  const eventsPerAppend = options.eventsPerAppend ?? 2000
  const perStream = Math.ceil(size.commands / size.streams)
  const seqNrs = new Map<string, number>()
  // Consecutive events of one stream go into one request: appends carry few requests with many events.
  const rounds = Math.max(1, Math.min(perStream, eventsPerAppend))
  const streamsPerAppend = Math.max(1, Math.floor(eventsPerAppend / rounds))
  for (let round = 0; round < perStream; round += rounds) {
    for (let first = 0; first < size.streams; first += streamsPerAppend) {
      const requests: AppendRequest[] = []
      for (let stream = first; stream < Math.min(size.streams, first + streamsPerAppend); stream++) {
        const events: NewEvent[] = []
        let persistenceId = ''
        for (let r = round; r < Math.min(perStream, round + rounds); r++) {
          const i = r * size.streams + stream
          if (i >= size.commands) break
          const at = eventAt(i, size, options.mapId)
          persistenceId = at.persistenceId
          events.push(at.event)
        }
        if (events.length === 0) continue
        const expectedSeqNr = seqNrs.get(persistenceId) ?? 0
        requests.push({ persistenceId, expectedSeqNr, events })
        seqNrs.set(persistenceId, expectedSeqNr + events.length)
      }
      const outcomes = await journal.append(requests)
      for (const outcome of outcomes) if (!outcome.ok) throw outcome.error
    }
  }
}
