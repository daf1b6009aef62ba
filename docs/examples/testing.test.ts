// #region unit
import { given } from '@statesource/core/testing'
import { describe, expect, it } from 'vitest'
import { order } from './aggregates.ts'
import { printedLines } from './print-lines.ts'

describe('order', () => {
  it('places an order that has items', () => {
    const history = [{ type: 'itemAdded' as const, price: 20 }]
    const spec = given(order, history).when({ type: 'place', at: 1_700_000_000_000 })
    expect(spec.events).toEqual([{ type: 'placed', at: 1_700_000_000_000 }])
    expect(spec.state.value).toEqual({ placed: 'awaitingPayment' })
    expect(spec.state.context.total).toBe(20)
  })
})
// #endregion unit

// #region rejections
describe('order rejections', () => {
  it('refuses a price that is not positive (decide)', () => {
    const error = given(order).when({ type: 'addItem', price: 0 }).rejected('price must be positive')
    expect(error.source).toBe('decide')
  })

  it('refuses to place an empty order (the chart)', () => {
    const error = given(order).when({ type: 'place', at: 1 }).rejected()
    expect(error.source).toBe('statechart')
  })

  it('refuses a total above 10,000 (an invariant)', () => {
    const error = given(order, [{ type: 'itemAdded', price: 9_990 }])
      .when({ type: 'addItem', price: 20 })
      .rejected('may not exceed 10,000')
    expect([error.source, error.rejectedBy]).toEqual(['invariant', 'boundedTotal'])
  })

  it('reports other errors in spec.error', () => {
    const spec = given(order).when({ type: 'refund' } as never)
    expect(spec.error?.code).toBe('UNKNOWN_COMMAND')
  })
})

// #endregion rejections

// #region determinism
import { defineAggregate } from '@statesource/core'
import { assign, setup } from 'xstate'

it('catches a machine that is not deterministic', () => {
  const receiptMachine = setup({
    types: { context: {} as { receiptId: string }, events: {} as { type: 'paid' } },
  }).createMachine({
    context: { receiptId: '' },
    // Wrong: a random id inside assign gives another state at every replay.
    on: { paid: { actions: assign({ receiptId: () => crypto.randomUUID() }) } },
  })
  const receipt = defineAggregate({
    type: 'receipt',
    machine: receiptMachine,
    commands: { pay: () => ({ type: 'paid' }) },
  })
  expect(() => given(receipt, [{ type: 'paid' }])).toThrow(/not deterministic/)
})

// #endregion determinism

// #region integration
import { afterEach, beforeEach } from 'vitest'
import { startShop } from './testing.ts'

describe('the shop, in memory', () => {
  let shop: Awaited<ReturnType<typeof startShop>>
  beforeEach(async () => {
    shop = await startShop()
  })
  afterEach(() => shop.handles.stop())

  it('stores the events of a command with its metadata', async () => {
    const sent = await shop.orders.send(
      'o-1',
      { type: 'addItem', price: 20 },
      { metadata: { userId: 'ada' } },
    )
    expect(sent.version).toBe(1)
    const [stored] = await shop.journal.replay('order|o-1')
    expect(stored).toMatchObject({ type: 'itemAdded', payload: { price: 20 }, metadata: { userId: 'ada' } })
  })

  it('rejects with a typed error and writes nothing', async () => {
    await expect(shop.orders.send('o-1', { type: 'place', at: 1 })).rejects.toMatchObject({
      code: 'COMMAND_REJECTED',
      source: 'statechart',
    })
    expect(await shop.journal.highestSeqNr('order|o-1')).toBe(0)
  })
})
// #endregion integration

// #region projection
it('reads its own writes from a projection', async () => {
  const { handles, orders, placedOrders } = await startShop()
  await orders.send('o-1', { type: 'addItem', price: 20 })
  const placed = await orders.send('o-1', { type: 'place', at: 1_700_000_000_000 })
  // Wait for the command's global ordering, never for a fixed time.
  expect(await placedOrders.waitForOffset(placed.ordering)).toEqual(['order|o-1'])
  await handles.stop()
})

// #endregion projection

// #region fake-timers
import { scheduleCommand } from '@statesource/core'
import { vi } from 'vitest'

describe('payment deadline', () => {
  // Fake only the timers and the clock: the gateway's setImmediate hand-offs must keep running.
  beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }))
  afterEach(() => void vi.useRealTimers())

  it('cancels an unpaid order after 30 minutes', async () => {
    const { handles, orders } = await startShop()
    await orders.send('o-1', { type: 'addItem', price: 20 })
    await orders.send('o-1', { type: 'place', at: Date.now() })
    const expiry = scheduleCommand(
      orders,
      'o-1',
      { type: 'cancel', reason: 'not paid' },
      { delay: 30 * 60_000 },
    )

    await vi.advanceTimersByTimeAsync(30 * 60_000 - 1)
    expect(expiry.status).toBe('pending')
    await vi.advanceTimersByTimeAsync(1)
    expect(await expiry.done).toMatchObject({ status: 'sent', result: { version: 3 } })
    await handles.stop()
  })
})
// #endregion fake-timers

it('testing guide: the fixture runs on its own', async () => {
  const { main } = await import('./testing.ts')
  expect(await printedLines({ main })).toEqual(['order|o-1'])
})
