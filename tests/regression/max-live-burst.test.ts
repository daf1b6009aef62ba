import { CqrsPattern, createInMemoryJournal, silentLogger } from '@statesource/core'
import { describe, expect, it } from 'vitest'
import { counter } from './fixtures.ts'

// Defect: eviction ran only when a new id arrived, and skipped aggregates still recovering or busy, so a
// burst of 1,000 new ids with maxLive 100 left 1,000 live aggregates until the idle timeout.
describe('passivation.maxLive', () => {
  it('is back at the bound as soon as a burst of new ids is answered', async () => {
    const handles = await CqrsPattern.builder({ journal: createInMemoryJournal() })
      .withAggregate(counter)
      .logger(silentLogger)
      .passivation({ maxLive: 100 })
      .build()
      .materialize()
    const counters = handles.repository(counter)
    await Promise.all(
      Array.from({ length: 1_000 }, (_, i) => counters.send(`b-${i}`, { type: 'add', n: 1, step: 1 })),
    )
    expect(handles.stats.live).toBeLessThanOrEqual(100)
    expect(handles.stats.recovering).toBe(0)
    expect(handles.stats.passivated).toBeGreaterThanOrEqual(900)
    // The most recently answered ones stay live; the state of a passivated one is recovered on demand.
    const state = await counters.state('b-0')
    expect(state.context.total).toBe(1)
    expect(handles.stats.live).toBeLessThanOrEqual(100)
    await handles.stop()
  })
})
