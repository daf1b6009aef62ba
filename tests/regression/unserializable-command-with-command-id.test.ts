import { CqrsPattern, createInMemoryJournal, silentLogger } from '@statesource/core'
import { describe, expect, it } from 'vitest'
import { counter } from './fixtures.ts'

// Defect: with a commandId, the command's idempotency hash threw first (JSON.stringify of a cycle, or a
// stack overflow) and the gateway wrapped that as JOURNAL_FAILURE; without one the journal said
// SERIALIZATION_FAILED. The errors guide promises SERIALIZATION_FAILED either way.
describe('a command that cannot be serialized', () => {
  it('fails with SERIALIZATION_FAILED with and without a commandId, and writes nothing', async () => {
    const journal = createInMemoryJournal()
    const handles = await CqrsPattern.builder({ journal })
      .withAggregate(counter)
      .logger(silentLogger)
      .build()
      .materialize()
    const counters = handles.repository(counter)
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    let deep: unknown = {}
    for (let i = 0; i < 20_000; i++) deep = { deep }
    for (const payload of [cycle, deep]) {
      for (const options of [{}, { commandId: 'c-1' }]) {
        await expect(counters.send('x', { type: 'note', text: 't', payload }, options)).rejects.toMatchObject(
          {
            code: 'SERIALIZATION_FAILED',
          },
        )
      }
    }
    expect(await journal.highestSeqNr('counter|x')).toBe(0)
    // The aggregate still serves.
    expect((await counters.send('x', { type: 'add', n: 1, step: 1 }, { commandId: 'c-2' })).version).toBe(1)
    await handles.stop()
  })
})
