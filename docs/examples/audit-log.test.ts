import { expect, it } from 'vitest'
import { main } from './audit-log.ts'
import { printedLines } from './print-lines.ts'

it('audit log guide: capacity, entries, a filtered log, a restart and a durable SQLite trail', async () => {
  expect(await printedLines({ main })).toEqual([
    '3 of 4 held',
    '3 order|o-1#3 itemAdded by ada (checkout-42)',
    '4 order|o-1#4 placed by ada (checkout-42)',
    'placed at 1700000000000',
    '2,3,4',
    '1 order|o-1 ada, 2 order|o-2 bob, 3 order|o-3 ada',
  ])
})
