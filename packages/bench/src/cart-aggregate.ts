import { defineAggregate, reject } from '@statesource/core'
import { assign, setup } from 'xstate'
import { addItem, type CartCommand, type CartEvent, decideCart } from './cart-workload.ts'

// #region statesource
/** The cart as a statechart over its events: `evolve` is the chart's transitions. */
export const cartMachine = setup({
  types: {
    context: {} as { items: number; total: number },
    events: {} as CartEvent,
  },
  actions: {
    addItem: assign(({ context, event }) =>
      event.type === 'ProductItemAdded' ? addItem(context, event.productItem) : context,
    ),
  },
  guards: { hasItems: ({ context }) => context.items > 0 },
}).createMachine({
  id: 'shopping_cart',
  initial: 'empty',
  context: { items: 0, total: 0 },
  states: {
    empty: { on: { ProductItemAdded: { target: 'opened', actions: 'addItem' } } },
    opened: {
      on: {
        ProductItemAdded: { actions: 'addItem' },
        ShoppingCartConfirmed: { target: 'confirmed', guard: 'hasItems' },
      },
    },
    confirmed: {},
  },
})

const STATUS = { empty: 'Empty', opened: 'Opened', confirmed: 'Confirmed' } as const

/** `decide` of one command through the shared rules; a rejection becomes statesource's `reject`. */
function decide(
  command: CartCommand,
  state: { value: unknown; context: { items: number; total: number } },
  cartId: string,
) {
  const decision = decideCart(command, cartId, STATUS[state.value as keyof typeof STATUS], state.context)
  return 'rejected' in decision ? reject(decision.rejected) : [...decision]
}

/** The statesource side: the chart plus one `decide` per command. */
export const cart = defineAggregate({
  type: 'shopping_cart',
  machine: cartMachine,
  commands: {
    AddProductItem: (command: Extract<CartCommand, { type: 'AddProductItem' }>, state, { id }) =>
      decide(command, state, id),
    AddProductItems: (command: Extract<CartCommand, { type: 'AddProductItems' }>, state, { id }) =>
      decide(command, state, id),
    ConfirmShoppingCart: (command: Extract<CartCommand, { type: 'ConfirmShoppingCart' }>, state, { id }) =>
      decide(command, state, id),
  },
})
// #endregion statesource

/**
 * The same cart with one more command, `Touch`, that records nothing: the recovery and memory benchmarks
 * use it to bring an aggregate back (or keep it live) without writing. It is not part of the comparison.
 */
export const probedCart = defineAggregate({
  type: 'shopping_cart',
  machine: cartMachine,
  commands: { ...cart.commands, Touch: () => [] },
})
