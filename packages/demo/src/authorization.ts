import { type FunctionInterceptor, type InterceptorContext, reject } from '@statesource/core'
import type { AnyMachineSnapshot } from 'xstate'

/**
 * Who sends a command: the role travels in the command's metadata (`{ metadata: { role, userId } }`), as an
 * API gateway would set it from the caller's token.
 *
 * @example
 * ```ts
 * const role: Role = 'warehouse'
 * ```
 */
export type Role = 'customer' | 'payments' | 'warehouse' | 'carrier' | 'support' | 'scheduler'

/** Which roles may send which command, per aggregate type. */
const permissions: Readonly<Record<string, Readonly<Record<string, readonly Role[]>>>> = {
  order: {
    place: ['customer'],
    confirmPayment: ['payments'],
    startPacking: ['warehouse'],
    ship: ['warehouse'],
    markDelivered: ['carrier'],
    cancel: ['customer', 'support'],
    expirePayment: ['scheduler'],
  },
  payment: {
    request: ['customer'],
    recordAuthorization: ['payments'],
    capture: ['payments'],
    refund: ['payments', 'support'],
  },
  shipment: {
    create: ['warehouse'],
    pickUp: ['carrier'],
    sendOutForDelivery: ['carrier'],
    reportFailedAttempt: ['carrier'],
    confirmDelivery: ['carrier'],
  },
}

/**
 * A state value as a dotted path: `{ placed: 'paid' }` becomes `placed.paid`.
 *
 * @example
 * ```ts
 * stateName(snapshot) // 'fulfilment.shipped'
 * ```
 */
export function stateName(snapshot: Pick<AnyMachineSnapshot, 'value'>): string {
  const parts: string[] = []
  let value: unknown = snapshot.value
  while (typeof value === 'object' && value !== null) {
    const [key, child] = Object.entries(value)[0] ?? []
    if (key === undefined) break
    parts.push(key)
    value = child
  }
  if (typeof value === 'string') parts.push(value)
  return parts.join('.')
}

/**
 * Authorization by role and by the aggregate's current state: the rules a shop's back office enforces
 * before any business logic runs.
 *
 * @example
 * ```ts
 * const result = authorize(context) // undefined (allowed) or a rejection with the reason
 * ```
 */
export function authorize({ aggregateType, command, metadata, state }: InterceptorContext) {
  const role = metadata.role as Role | undefined
  const allowed = permissions[aggregateType]?.[command.type]
  if (!role) return reject('the command carries no role; send it with { metadata: { role } }')
  if (!allowed?.includes(role)) {
    return reject(`a ${role} may not send "${command.type}" to a ${aggregateType}`)
  }
  if (aggregateType !== 'order') return undefined
  const context = state.context as { customerId: string }
  if (role === 'customer' && command.type !== 'place' && context.customerId !== metadata.userId) {
    return reject(`customer "${String(metadata.userId)}" does not own this order`)
  }
  // Once the warehouse has the parcel, a customer must go through returns instead of cancelling.
  if (command.type === 'cancel' && role === 'customer' && !state.matches('placed')) {
    return reject(`a customer can cancel only before packing starts; this order is ${stateName(state)}`)
  }
  if (command.type === 'startPacking' && !state.matches({ placed: 'paid' })) {
    return reject(`the warehouse packs only paid orders; this order is ${stateName(state)}`)
  }
  return undefined
}

/**
 * The authorization interceptor, registered after validation so it only sees well-formed commands.
 *
 * @example
 * ```ts
 * builder.onCommand(authorization)
 * ```
 */
export const authorization: FunctionInterceptor = { name: 'authorize', intercept: authorize }
