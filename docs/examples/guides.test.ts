import { describe, expect, it } from 'vitest'

async function run(
  load: () => Promise<{ main: (log: (line: string) => void) => unknown }>,
): Promise<string[]> {
  const lines: string[] = []
  await (await load()).main((line) => lines.push(line))
  return lines
}

describe('guide examples run and print what their comments say', () => {
  it('sqlite: open and a transaction writing a read model with its offset', async () => {
    expect(await run(() => import('./sqlite.ts'))).toEqual(['balance 5, offset 1'])
  })

  it('inspection: named chart, recorder and relay', async () => {
    expect(await run(() => import('./inspection.ts'))).toEqual([
      'warnings: 0',
      'shop, order|o-1',
      'xstate.init, itemAdded',
      'relay on 127.0.0.1',
    ])
  })
})
