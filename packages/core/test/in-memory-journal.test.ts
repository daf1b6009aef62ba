import { describe, expect, it } from 'vitest'
import { createInMemoryJournal, createInMemorySnapshotStore } from '../src/index.ts'
import { appendRequest, describeJournalContract, newEvent } from '../src/testing/index.ts'

describeJournalContract('in-memory', () => {
  const journal = createInMemoryJournal()
  return {
    journal,
    readJournal: journal.readJournal({ pollIntervalMs: 20 }),
    snapshotStore: createInMemorySnapshotStore(),
    dispose: () => journal.close(),
  }
})

describe('in-memory journal limits', () => {
  it('takes raised limits and refuses invalid ones', async () => {
    const journal = createInMemoryJournal({
      limits: { maxPayloadBytes: 3 * 1024 * 1024, maxTagBytes: 1_000 },
    })
    const [outcome] = await journal.append([
      appendRequest('p', [newEvent('x', { s: 'x'.repeat(2 * 1024 * 1024) }, { tags: ['t'.repeat(900)] })]),
    ])
    expect(outcome?.ok).toBe(true)
    expect(journal.limits).toMatchObject({
      maxPayloadBytes: 3 * 1024 * 1024,
      maxTagBytes: 1_000,
      maxTagsPerEvent: 64,
    })
    expect(() => createInMemoryJournal({ limits: { maxPayloadBytes: 0 } })).toThrow(
      'limits.maxPayloadBytes must be an integer of at least 1, got 0 (createInMemoryJournal({ limits })).',
    )
  })

  it('tells where to raise a limit', async () => {
    const journal = createInMemoryJournal()
    const [outcome] = await journal.append([
      appendRequest('p', [newEvent('x', { s: 'x'.repeat(1_048_577) })]),
    ])
    expect(outcome?.ok).toBe(false)
    expect(outcome?.ok === false && outcome.error.message).toBe(
      'The payload of event "x" for "p" is 1,048,585 bytes; the limit is 1,048,576 (limits.maxPayloadBytes). Nothing was written. Keep large data out of events (store a reference), or raise limits.maxPayloadBytes (createInMemoryJournal({ limits })).',
    )
  })
})
