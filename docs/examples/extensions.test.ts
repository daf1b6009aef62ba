import { expect, it } from 'vitest'
import { main } from './extensions.ts'
import { printedLines } from './print-lines.ts'

it('extensions guide: validation, authorization by state, an actor interceptor and a tap bridged to RxJS', async () => {
  expect(await printedLines({ main })).toEqual([
    'listener: 1 itemAdded',
    'listener: 2 placed',
    'Command "addItem" for "order|o-1" was rejected by interceptor "schemas": price: Too small: expected number to be >0',
    'Command "pay" for "order|o-1" was rejected by interceptor "owner-only": user "bob" may not pay this order',
    'Command "pay" for "order|o-1" was rejected by interceptor "business-hours": the shop is closed',
    'listener: 3 paid',
    'bridge: [["itemAdded#1","placed#2"]]',
    'outbox: business-hours,business-hours',
  ])
})
