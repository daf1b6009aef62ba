import { CqrsPattern, createInMemoryJournal, silentLogger } from '@statesource/core'
import { describe, expect, it } from 'vitest'
import { counter } from './fixtures.ts'

// Defect: the abort signal was only checked before a command started, so a command aborted while an async
// interceptor held it was still written.
describe('aborting a command', () => {
  it('prevents the write when the signal fires while an async interceptor holds the command', async () => {
    const journal = createInMemoryJournal()
    let release!: () => void
    let entered!: () => void
    const inInterceptor = new Promise<void>((resolve) => (entered = resolve))
    const handles = await CqrsPattern.builder({ journal })
      .withAggregate(counter)
      .logger(silentLogger)
      .onCommand(async () => {
        entered()
        await new Promise<void>((resolve) => (release = resolve))
      })
      .build()
      .materialize()
    const controller = new AbortController()
    const sent = handles
      .repository(counter)
      .send('a', { type: 'add', n: 1, step: 1 }, { signal: controller.signal })
    const outcome = expect(sent).rejects.toMatchObject({ code: 'ABORTED' })
    await inInterceptor
    controller.abort()
    release()
    await outcome
    await handles.stop()
    expect(await journal.highestSeqNr('counter|a')).toBe(0)
    expect(handles.stats.persistedEvents).toBe(0)
  })
})
