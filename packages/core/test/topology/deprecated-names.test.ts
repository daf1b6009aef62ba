// Names renamed to follow the naming convention (docs/architecture.md) keep working for one release.
import { describe, expect, it } from 'vitest'
import {
  CqrsPattern,
  createInMemoryJournal,
  duplicateSchedule,
  duplicateScheduleError,
  EventCodecRegistry,
  type EventEnvelope,
  silentLogger,
} from '../../src/index.ts'
import { account } from '../fixtures.ts'

const builder = () =>
  CqrsPattern.builder({ journal: createInMemoryJournal() }).withAggregate(account).logger(silentLogger)

const stranger: EventEnvelope = {
  persistenceId: 'legacy|1',
  seqNr: 1,
  ordering: 1,
  type: 'imported',
  version: 1,
  payload: { n: 2 },
  tags: [],
  metadata: {},
  timestamp: 0,
  writerId: 'w',
} as unknown as EventEnvelope

describe('deprecated names', () => {
  it('withEventCodecs sets the registry, as eventCodecs does', () => {
    const codecs = new EventCodecRegistry()
    expect(builder().withEventCodecs(codecs).build().codecs).toBe(codecs)
  })

  it('withReaderRetry sets the retry of every reader, as readerRetry does', () => {
    const retry = { maxAttempts: 3, schedule: { fixedMs: 5 } }
    expect(builder().withReaderRetry(3, { fixedMs: 5 }).build().describe().readerRetry).toEqual(retry)
    expect(builder().readerRetry(3, { fixedMs: 5 }).build().describe().readerRetry).toEqual(retry)
  })

  it('withDefault registers the catch-all decoder, as registerDefault does', () => {
    expect(() => new EventCodecRegistry().decode(stranger)).toThrow(/imported/)
    expect(new EventCodecRegistry().withDefault().decode(stranger)).toEqual({ type: 'imported', n: 2 })
    expect(new EventCodecRegistry().registerDefault().decode(stranger)).toEqual({ type: 'imported', n: 2 })
  })

  it('duplicateSchedule returns the error duplicateScheduleError does', () => {
    expect(duplicateSchedule('reminder-1')).toEqual(duplicateScheduleError('reminder-1'))
    expect(duplicateSchedule('reminder-1').message).toMatch(/"reminder-1" already exists/)
  })
})
