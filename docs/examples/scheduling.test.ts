import { expect, it } from 'vitest'
import { printedLines } from './print-lines.ts'
import { main } from './scheduling.ts'

it('scheduling guide: cancel, failure reporting and a durable schedule', async () => {
  expect(await printedLines({ main })).toEqual([
    'cancelled: true',
    '{"status":"cancelled"}',
    'onError: Command "addItem" for "order|o-1" was rejected by decide: price must be positive',
    'outcome: failed',
    'start: rearmed 0, fired 0',
    'sent: version 2',
  ])
})
