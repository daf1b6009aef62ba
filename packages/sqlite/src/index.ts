// Opening a database
export { fromKysely, openSqlite, StatesourceSqlite } from './open-sqlite.ts'
export { SQLITE_DEFAULTS } from './sqlite-defaults.ts'
export type {
  SqliteKyselyTransaction,
  SqliteOptions,
  SqliteReadJournalConfig,
  SqliteSynchronous,
  SqliteTransaction,
} from './open-sqlite.ts'

// Journal, snapshots, offsets
export { SqliteJournal } from './sqlite-journal.ts'
export type { SqliteCommit, SqliteJournalConfig, SqliteJournalStats } from './sqlite-journal.ts'
export { SqliteSnapshotStore } from './sqlite-snapshot-store.ts'
export { SqliteOffsetStore } from './sqlite-offset-store.ts'
export type { AsyncTransactionOffsets, TransactionOffsets } from './sqlite-offset-store.ts'

// Exactly-once projections (read model and offset in one transaction)
export {
  createSqliteProjection,
  createSqliteTransactionalOffsetStore,
  sqliteOffsets,
} from './sqlite-projection.ts'
export type { SqliteProjectionConfig } from './sqlite-projection.ts'

// Scheduled commands
export { createSqliteScheduleStore, SCHEDULE_TABLE, SqliteScheduleStore } from './sqlite-schedule-store.ts'
export type { ScheduleTable } from './sqlite-schedule-store.ts'

// Schema
export { TABLES } from './sqlite-schema.ts'
export type {
  EventTagTable,
  JournalTable,
  ProjectionOffsetTable,
  SnapshotTable,
  StatesourceTables,
  StreamTable,
} from './sqlite-schema.ts'
