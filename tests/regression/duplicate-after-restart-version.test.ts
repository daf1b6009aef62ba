import {
  CqrsPattern,
  createInMemoryJournal,
  createInMemorySnapshotStore,
  silentLogger,
} from '@statesource/core'
import { describe, expect, it } from 'vitest'
import { counter } from './fixtures.ts'

// Defect: a retried command (same commandId) answered with the aggregate's current version instead of the
// version of its first result, live, after a restart from the journal, and from a snapshot.
describe('a duplicate command', () => {
  for (const snapshots of [false, true]) {
    it(`returns the first result's version after more commands and a restart (snapshots ${snapshots ? 'on' : 'off'})`, async () => {
      const journal = createInMemoryJournal()
      const snapshotStore = createInMemorySnapshotStore()
      const start = () => {
        const builder = CqrsPattern.builder({ journal }).withAggregate(counter).logger(silentLogger)
        if (snapshots) builder.snapshotStore(snapshotStore).snapshotPolicy({ every: 1 })
        return builder.build().materialize()
      }
      let handles = await start()
      let counters = handles.repository(counter)
      const first = await counters.send('d', { type: 'add', n: 5, step: 1 }, { commandId: 'first' })
      const empty = await counters.send('d', { type: 'nothing' }, { commandId: 'empty' })
      await counters.send('d', { type: 'add', n: 1, step: 2 })
      await counters.send('d', { type: 'add', n: 1, step: 3 })
      const live = await counters.send('d', { type: 'add', n: 5, step: 1 }, { commandId: 'first' })
      expect(live).toMatchObject({ duplicate: true, version: 1, ordering: first.ordering })
      await handles.stop()

      handles = await start()
      counters = handles.repository(counter)
      const again = await counters.send('d', { type: 'add', n: 5, step: 1 }, { commandId: 'first' })
      expect(again).toMatchObject({ duplicate: true, version: first.version, ordering: first.ordering })
      expect(again.events.map((e) => e.seqNr)).toEqual([1])
      expect(first.version).toBe(1)
      // A command that wrote no events is remembered only while its aggregate stays live (repository.md), in
      // snapshots neither: after the restart its retry runs decide again, at the aggregate's current version.
      const emptyAgain = await counters.send('d', { type: 'nothing' }, { commandId: 'empty' })
      expect(emptyAgain).toMatchObject({ duplicate: false, version: 3, events: [] })
      expect(empty).toMatchObject({ duplicate: false, version: 1, events: [] })
      expect(handles.stats.recoveriesFromSnapshot).toBe(snapshots ? 1 : 0)
      await handles.stop()
    })
  }
})
