import { describe, expect, it } from 'vitest'
import { printedLines } from './print-lines.ts'

describe('guide examples run and print what their comments say', () => {
  it('sqlite: open and a transaction writing a read model with its offset', async () => {
    expect(await printedLines(import('./sqlite.ts'))).toEqual([
      'balance 5, offset 1',
      '100 events in one or two transactions',
    ])
  })

  it('security: size limits and back-pressure', async () => {
    expect(await printedLines(import('./security.ts'))).toEqual([
      'INVALID_INPUT: limits.maxPayloadBytes',
      'refused 900 of 1000',
    ])
  })

  it('inspection: named chart, recorder and relay', async () => {
    expect(await printedLines(import('./inspection.ts'))).toEqual([
      'warnings: 0',
      'shop, order|o-1',
      'xstate.init, itemAdded',
      'received, persisted',
      'relay on 127.0.0.1',
      'true',
    ])
  })
})
