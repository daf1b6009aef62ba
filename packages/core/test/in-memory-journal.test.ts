import { createInMemoryJournal, createInMemorySnapshotStore } from '../src/index.ts'
import { describeJournalContract } from '../src/testing/index.ts'

describeJournalContract('in-memory', () => {
  const journal = createInMemoryJournal()
  return {
    journal,
    readJournal: journal.readJournal({ pollIntervalMs: 20 }),
    snapshotStore: createInMemorySnapshotStore(),
    dispose: () => journal.close(),
  }
})
