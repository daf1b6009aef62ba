import { describeJournalContract } from '@statesource/core/testing'
import { openFresh } from '../test/pg-test-server.ts'

describeJournalContract('PostgreSQL', async () => {
  const { pg, dispose } = await openFresh()
  return {
    journal: pg.journal,
    readJournal: pg.readJournal({ pollIntervalMs: 20 }),
    snapshotStore: pg.snapshotStore,
    dispose,
  }
})
