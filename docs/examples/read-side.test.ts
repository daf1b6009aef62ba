import { describe, expect, it } from 'vitest'
import { printedLines } from './print-lines.ts'

describe('read-side examples run and print what their comments say', () => {
  it('read side', async () => {
    expect(await printedLines(import('./read-side.ts'))).toEqual([
      '35 from order|o-1, order|o-2',
      'order|o-2#1 itemAdded',
      'revenue caught-up lag=0',
    ])
  })

  it('schema evolution', async () => {
    expect(await printedLines(import('./schema-evolution.ts'))).toEqual([
      '{"balance":20}',
      'v1 7 EUR; v2 3 EUR; v3 10 EUR',
    ])
  })
})
