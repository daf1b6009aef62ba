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

describe('getting started', () => {
  it('runs from an empty database to a first projection', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const dir = mkdtempSync(join(tmpdir(), 'statesource-start-'))
    const { run } = await import('./getting-started.ts')
    const first: string[] = []
    await run(join(dir, 'todos.db'), (line) => first.push(line))
    expect(first).toEqual(['open 1, done 1'])
    rmSync(dir, { recursive: true, force: true })
  })
})
