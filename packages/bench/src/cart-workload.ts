/**
 * The shopping-cart workload both sides of the comparison run: the same commands, the same business rules,
 * the same event payloads. Only the framework around them differs.
 */

// #region workload
/** Padding that brings an `ProductItemAdded` payload to ~220 bytes of JSON, like the perf baseline. */
export const NOTE = 'lorem ipsum dolor sit amet consectetur adipiscing elit'

export interface ProductItem {
  readonly productId: string
  readonly quantity: number
  readonly unitPrice: number
}

/** The two commands of the workload. */
export type CartCommand =
  | { readonly type: 'AddProductItem'; readonly productItem: ProductItem; readonly addedBy: string }
  | { readonly type: 'ConfirmShoppingCart'; readonly now: number }

/** The two events: one per command. */
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

/** How an added item changes the totals (the `evolve` of both sides). */
export function addItem(totals: CartTotals, productItem: ProductItem): CartTotals {
  return {
    items: totals.items + productItem.quantity,
    total: totals.total + productItem.quantity * productItem.unitPrice,
  }
}

/** The decision rules (the `decide` of both sides): a rejection reason, or the event to record. */
export function decideCart(
  command: CartCommand,
  cartId: string,
  status: 'Empty' | 'Opened' | 'Confirmed',
  totals: CartTotals,
): CartEvent | { readonly rejected: string } {
  if (status === 'Confirmed') return { rejected: 'Cart already confirmed' }
  switch (command.type) {
    case 'AddProductItem':
      return {
        type: 'ProductItemAdded',
        shoppingCartId: cartId,
        productItem: command.productItem,
        addedBy: command.addedBy,
        note: NOTE,
      }
    case 'ConfirmShoppingCart':
      if (totals.items === 0) return { rejected: 'Empty cart' }
      return { type: 'ShoppingCartConfirmed', shoppingCartId: cartId, confirmedAt: command.now }
  }
}

/** Size of a run: `commands` round-robin over `streams` carts. */
export interface WorkloadSize {
  readonly commands: number
  readonly streams: number
}

/**
 * Command `i` of a run: carts are visited round-robin; each cart gets `commands / streams - 1`
 * `AddProductItem` commands, then one `ConfirmShoppingCart` (20,000 over 1,000 carts: 19 + 1 per cart).
 */
export function commandAt(i: number, size: WorkloadSize): { cartId: string; command: CartCommand } {
  const cartId = `cart-${String(i % size.streams).padStart(6, '0')}`
  const round = Math.floor(i / size.streams)
  if (round === Math.ceil(size.commands / size.streams) - 1) {
    return { cartId, command: { type: 'ConfirmShoppingCart', now: 1_764_000_000_000 + i } }
  }
  return {
    cartId,
    command: {
      type: 'AddProductItem',
      addedBy: `user-${i % 997}`,
      productItem: {
        productId: `prod-${(i * 7919) % 100_000}`,
        quantity: (i % 5) + 1,
        unitPrice: (i % 1000) + 0.99,
      },
    },
  }
}

/**
 * The warm-up before every timed run (not timed, same concurrency, every side): the same kind of workload
 * on 1,000 carts of its own (`warm-000000` ...), four commands each. Every code path of the timed run (a
 * cart's first command, its later ones, the confirmation) runs a thousand times before timing starts, so
 * the timed run measures compiled code rather than the JIT warming up.
 */
export const WARM_UP: WorkloadSize = { commands: 4_000, streams: 1_000 }

/** Warm-up command `i`: command `i` of the {@link WARM_UP} workload, on the warm-up carts. */
export function warmUpCommandAt(i: number): { cartId: string; command: CartCommand } {
  const { cartId, command } = commandAt(i, WARM_UP)
  return { cartId: `warm-${cartId.slice('cart-'.length)}`, command }
}
// #endregion workload
