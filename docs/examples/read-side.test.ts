import { describe, expect, it } from 'vitest'

async function run(
  load: () => Promise<{ main: (log: (line: string) => void) => unknown }>,
): Promise<string[]> {
  const lines: string[] = []
  await (await load()).main((line) => lines.push(line))
  return lines
}

describe('read-side examples run and print what their comments say', () => {
  it('read side', async () => {
    expect(await run(() => import('./read-side.ts'))).toEqual([
      '35 from order|o-1, order|o-2',
      'order|o-2#1 itemAdded',
      'revenue caught-up lag=0',
    ])
  })

  it('schema evolution', async () => {
    expect(await run(() => import('./schema-evolution.ts'))).toEqual([
      '{"balance":20}',
      'v1 7 EUR; v2 3 EUR; v3 10 EUR',
    ])
  })
})
