// Opening a database
export { channelName, openPostgres, StatesourcePostgres } from './open-postgres.ts'
export type { PostgresOptions, PostgresReadJournalConfig, PostgresTransaction } from './open-postgres.ts'

// Journal, snapshots, offsets, dead letters, schedules
export { PostgresJournal } from './postgres-journal.ts'
export type {
  PostgresCommit,
  PostgresJournalConfig,
  PostgresJournalStats,
  PostgresRecoveryRead,
} from './postgres-journal.ts'
export type { PostgresListenerStats } from './postgres-listener.ts'
export { PostgresSnapshotStore } from './postgres-snapshot-store.ts'
export { PostgresOffsetStore } from './postgres-offset-store.ts'
export type { TransactionOffsets } from './postgres-offset-store.ts'
export { PostgresDeadLetterStore } from './postgres-dead-letter-store.ts'
export { PostgresScheduleStore } from './postgres-schedule-store.ts'

// Exactly-once projections (read model and offset in one transaction)
export { createPostgresProjection } from './postgres-projection.ts'
export type { PostgresProjectionConfig } from './postgres-projection.ts'

// Schema
export { APPEND_FUNCTION, TABLES } from './postgres-schema.ts'
export type {
  DeadLetterTable,
  EventTagTable,
  HeadTable,
  JournalTable,
  ProjectionOffsetTable,
  ScheduleTable,
  SnapshotTable,
  StatesourceTables,
  StreamTable,
} from './postgres-schema.ts'
