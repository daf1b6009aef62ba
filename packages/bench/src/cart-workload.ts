/**
 * The shopping-cart workload every side of the comparison runs: the same commands, the same business rules,
 * the same event payloads. Only the framework around them differs.
 */

// #region workload
/** Padding that brings an `ProductItemAdded` payload to ~220 bytes of JSON, like the perf baseline. */
export const NOTE = 'lorem ipsum dolor sit amet consectetur adipiscing elit'

/** Longer padding for the 3-events workload: each of its events is ~340 bytes of JSON (~1 KB per command). */
export const LONG_NOTE = `${NOTE} sed do eiusmod tempor incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco`

export interface ProductItem {
  readonly productId: string
  readonly quantity: number
  readonly unitPrice: number
}

/** The commands of the workload. */
export type CartCommand =
  | { readonly type: 'AddProductItem'; readonly productItem: ProductItem; readonly addedBy: string }
  | {
      readonly type: 'AddProductItems'
      readonly productItems: readonly ProductItem[]
      readonly addedBy: string
    }
  | { readonly type: 'ConfirmShoppingCart'; readonly now: number }

/** The events: one per added item, one for the confirmation. */
export type CartEvent =
  | {
      readonly type: 'ProductItemAdded'
      readonly shoppingCartId: string
      readonly productItem: ProductItem
      readonly addedBy: string
      readonly note: string
    }
  | { readonly type: 'ShoppingCartConfirmed'; readonly shoppingCartId: string; readonly confirmedAt: number }

/** What the decision needs to know about a cart. */
export interface CartTotals {
  readonly items: number
  readonly total: number
}

/** How an added item changes the totals (the `evolve` of every side). */
export function addItem(totals: CartTotals, productItem: ProductItem): CartTotals {
  return {
    items: totals.items + productItem.quantity,
    total: totals.total + productItem.quantity * productItem.unitPrice,
  }
}

/** The decision rules (the `decide` of every side): a rejection reason, or the events to record. */
export function decideCart(
  command: CartCommand,
  cartId: string,
  status: 'Empty' | 'Opened' | 'Confirmed',
  totals: CartTotals,
): readonly CartEvent[] | { readonly rejected: string } {
  if (status === 'Confirmed') return { rejected: 'Cart already confirmed' }
  switch (command.type) {
    case 'AddProductItem':
      return [
        {
          type: 'ProductItemAdded',
          shoppingCartId: cartId,
          productItem: command.productItem,
          addedBy: command.addedBy,
          note: NOTE,
        },
      ]
    case 'AddProductItems':
      return command.productItems.map((productItem) => ({
        type: 'ProductItemAdded' as const,
        shoppingCartId: cartId,
        productItem,
        addedBy: command.addedBy,
        note: LONG_NOTE,
      }))
    case 'ConfirmShoppingCart':
      if (totals.items === 0) return { rejected: 'Empty cart' }
      return [{ type: 'ShoppingCartConfirmed', shoppingCartId: cartId, confirmedAt: command.now }]
  }
}

/**
 * The shapes of the workload:
 * - `single`: 1 event of ~220 B per command, carts visited round-robin, the last command of each cart confirms it;
 * - `triple`: the same with 3 events of ~340 B per command (~1 KB);
 * - `zipf`: 1 event per command, carts drawn from a Zipf distribution (exponent 0.99, a few hot carts), each
 *   command sent with the `expectedVersion` the client last saw for its cart, so concurrent commands on a
 *   hot cart conflict. No confirmations.
 */
export type WorkloadKind = 'single' | 'triple' | 'zipf'

/** Size of a run: `commands` over `streams` carts. */
export interface WorkloadSize {
  readonly commands: number
  readonly streams: number
  /** Default `single`. */
  readonly kind?: WorkloadKind
  /** Warm-up commands before the timed run, four per warm-up cart. Default {@link WARM_UP}'s 2,000. */
  readonly warmUp?: number
}

/** Events each command of a workload kind records. */
export const EVENTS_PER_COMMAND: Record<WorkloadKind, number> = { single: 1, triple: 3, zipf: 1 }

const itemAt = (i: number, k = 0): ProductItem => ({
  productId: `prod-${(i * 7919 + k * 104_729) % 100_000}`,
  quantity: ((i + k) % 5) + 1,
  unitPrice: ((i + k) % 1000) + 0.99,
})

const cartIdOf = (index: number) => `cart-${String(index).padStart(6, '0')}`

/**
 * Command `i` of a run. `single` and `triple` visit the carts round-robin: each cart gets
 * `commands / streams - 1` add commands, then one `ConfirmShoppingCart` (20,000 over 1,000 carts: 19 + 1
 * per cart). `zipf` draws the cart of each command from a Zipf distribution (deterministic per `i`).
 */
export function commandAt(i: number, size: WorkloadSize): { cartId: string; command: CartCommand } {
  const kind = size.kind ?? 'single'
  if (kind === 'zipf') {
    return {
      cartId: cartIdOf(zipfIndex(i, size.streams)),
      command: { type: 'AddProductItem', addedBy: `user-${i % 997}`, productItem: itemAt(i) },
    }
  }
  const cartId = cartIdOf(i % size.streams)
  const round = Math.floor(i / size.streams)
  if (round === Math.ceil(size.commands / size.streams) - 1) {
    return { cartId, command: { type: 'ConfirmShoppingCart', now: 1_764_000_000_000 + i } }
  }
  const addedBy = `user-${i % 997}`
  if (kind === 'triple') {
    return {
      cartId,
      command: { type: 'AddProductItems', addedBy, productItems: [itemAt(i), itemAt(i, 1), itemAt(i, 2)] },
    }
  }
  return { cartId, command: { type: 'AddProductItem', addedBy, productItem: itemAt(i) } }
}

/**
 * The warm-up before every timed run (not timed, same concurrency, every side): the same kind of workload
 * on 500 carts of its own (`warm-000000` ...), four commands each. Every code path of the timed run (a
 * cart's first command, its later ones, the confirmation) runs hundreds of times before timing starts, so
 * the timed run measures compiled code rather than the JIT warming up.
 */
export const WARM_UP: WorkloadSize = { commands: 2_000, streams: 500 }

/** The warm-up of a workload: `warmUp` commands (default 2,000), four per warm-up cart. */
export function warmUpOf(size: WorkloadSize): WorkloadSize {
  const commands = size.warmUp ?? WARM_UP.commands
  return {
    commands,
    streams: Math.max(1, Math.ceil(commands / 4)),
    kind: size.kind === 'zipf' ? 'single' : (size.kind ?? 'single'),
  }
}

/** Warm-up command `i` of a workload, on the warm-up carts (round-robin, never conflicting). */
export function warmUpCommandAt(i: number, size: WorkloadSize): { cartId: string; command: CartCommand } {
  const { cartId, command } = commandAt(i, warmUpOf(size))
  return { cartId: `warm-${cartId.slice('cart-'.length)}`, command }
}
// #endregion workload

const zipfTables = new Map<number, Float64Array>()

/** Cart index of command `i` under Zipf(0.99) over `streams` carts: inverse CDF of a hash of `i`. */
function zipfIndex(i: number, streams: number): number {
  let cdf = zipfTables.get(streams)
  if (!cdf) {
    cdf = new Float64Array(streams)
    let sum = 0
    for (let k = 0; k < streams; k++) {
      sum += 1 / (k + 1) ** 0.99
      cdf[k] = sum
    }
    for (let k = 0; k < streams; k++) cdf[k]! /= sum
    zipfTables.set(streams, cdf)
  }
  // A 32-bit integer hash of i, as a uniform number in [0, 1).
  let h = Math.imul(i + 0x9e3779b9, 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  const u = ((h ^ (h >>> 16)) >>> 0) / 2 ** 32
  let lo = 0
  let hi = streams - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (cdf[mid]! < u) lo = mid + 1
    else hi = mid
  }
  return lo
}
