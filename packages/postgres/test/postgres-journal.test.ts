import { appendRequest, describeJournalContract, newEvent } from '@statesource/core/testing'
import { describe, expect, it } from 'vitest'
import { appendFailure, isOutcomeUnknown } from '../src/journal-sql.ts'
import { openFresh } from './pg-test-server.ts'

describeJournalContract('PostgreSQL', async () => {
  const { pg, dispose } = await openFresh()
  return {
    journal: pg.journal,
    readJournal: pg.readJournal({ pollIntervalMs: 20 }),
    snapshotStore: pg.snapshotStore,
    dispose,
  }
})

describe('PostgreSQL journal', () => {
  it('reads a stream for recovery: events from a sequence number and the highest one, deleted ones counted', async () => {
    const { pg, dispose } = await openFresh({ listen: false })
    try {
      expect(await pg.journal.readForRecovery('a')).toEqual({ events: [], highestSeqNr: 0 })
      await pg.journal.append([appendRequest('a', [newEvent('x'), newEvent('x'), newEvent('x')])])
      const read = await pg.journal.readForRecovery('a', { fromSeqNr: 2 })
      expect(read.highestSeqNr).toBe(3)
      expect(read.events.map((e) => e.seqNr)).toEqual([2, 3])
      await pg.journal.deleteTo('a', 3)
      expect(await pg.journal.readForRecovery('a')).toEqual({ events: [], highestSeqNr: 3 })
    } finally {
      await dispose()
    }
  })

  it('tells a broken connection (outcome unknown) from a statement the server refused', () => {
    expect(isOutcomeUnknown(new Error('Connection terminated unexpectedly'))).toBe(true)
    expect(isOutcomeUnknown(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(true)
    expect(isOutcomeUnknown(Object.assign(new Error('terminating'), { code: '57P01' }))).toBe(true)
    expect(isOutcomeUnknown(Object.assign(new Error('timeout'), { code: '57014' }))).toBe(false)
    expect(isOutcomeUnknown(Object.assign(new Error('deadlock'), { code: '40P01' }))).toBe(false)
    expect(isOutcomeUnknown(Object.assign(new Error('unique'), { code: '23505' }))).toBe(false)
    expect(appendFailure(Object.assign(new Error('unique'), { code: '23505' })).message).toContain(
      'Nothing from this append was written; retry it.',
    )
  })
})
