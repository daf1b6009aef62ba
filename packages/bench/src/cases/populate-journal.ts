import type { NewEvent } from '@statesource/core'
import { probedCart } from '../cart-aggregate.ts'
import { commandAt, decideCart, type WorkloadSize } from '../cart-workload.ts'

/**
 * The stored form of the (first) event command `i` of a workload records (every workload command is
 * accepted). `mapId` renames the workload's cart id (`cart-000042`).
 *
 * @example
 * ```ts
 * const { persistenceId, event } = eventAt(0, { commands: 20, streams: 1 }, () => 'big-cart')
 * ```
 */
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
  const { type, ...payload } = decision[0]!
  return {
    persistenceId: probedCart.persistenceId(cartId),
    event: { type, version: 1, payload, tags: [], metadata: {} },
  }
}
