import { describe, expect, it } from 'vitest'
import { printedLines } from './print-lines.ts'

describe('docs examples run and print what their comments say', () => {
  it('aggregates: given/when/then', async () => {
    expect(await printedLines(import('./aggregates.ts'))).toEqual([
      '[{"type":"placed","at":1700000000000}]',
      '{"placed":"awaitingPayment"}',
      'Command "place" for "order|spec" was rejected by statechart: event "placed" is not accepted by aggregate "order" in state "draft"',
    ])
  })

  it('gateway inside the application system', async () => {
    expect(await printedLines(import('./gateway.ts'))).toEqual([
      'order|o-1 at version 2',
      '{"placed":"awaitingPayment"}',
    ])
  })

  it('repository options', async () => {
    expect(await printedLines(import('./repository.ts'))).toEqual([
      '1 1 duplicate=true',
      '"order|o-7" is at version 1, expected 0. Reload the aggregate and retry the command.',
    ])
  })
})
