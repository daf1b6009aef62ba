import { type EventEnvelope, type EventMetadata, isStatesourceError, JournalError } from '@statesource/core'
import type { AppendSql } from './append-transaction.js'
import { TABLES } from './sqlite-schema.ts'

// Every statement the journal runs, as constant SQL: the better-sqlite3 driver caches one prepared
// statement per string, and no statement is ever built from data.

const J = TABLES.journal
const T = TABLES.eventTag
const S = TABLES.stream

/** The number of bound variables one SQLite statement may hold (`SQLITE_MAX_VARIABLE_NUMBER`). */
export const MAX_VARIABLES = 32_766

const COLUMNS =
  'ordering, persistence_id, seq_nr, event_type, event_version, payload, metadata, tags, written_at, writer_id'
const J_COLUMNS = COLUMNS.split(', ')
  .map((c) => `j.${c}`)
  .join(', ')

export const INSERT_COLUMNS =
  'persistence_id, seq_nr, event_type, event_version, payload, metadata, tags, written_at, writer_id'
export const INSERT_COLUMN_COUNT = 9

export const SQL = {
  /** The highest sequence number ever written: the last stored event, else the delete marker, else 0. */
  currentSeqNr: `SELECT coalesce((SELECT max(seq_nr) FROM ${J} WHERE persistence_id = ?), (SELECT deleted_to FROM ${S} WHERE persistence_id = ?), 0) AS seq_nr`,
  insertEvent: `INSERT INTO ${J} (${INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  insertTag: `INSERT INTO ${T} (tag, ordering, persistence_id, seq_nr) VALUES (?, ?, ?, ?)`,
  insertStream: `INSERT OR IGNORE INTO ${S} (persistence_id, position, deleted_to) VALUES (?, ?, 0)`,
  byPersistenceId: `SELECT ${COLUMNS} FROM ${J} WHERE persistence_id = ? AND seq_nr >= ? AND seq_nr <= ? ORDER BY seq_nr LIMIT ?`,
  byPersistenceIdUnlimited: `SELECT ${COLUMNS} FROM ${J} WHERE persistence_id = ? AND seq_nr >= ? AND seq_nr <= ? ORDER BY seq_nr`,
  byTag: `SELECT ${J_COLUMNS} FROM ${T} t JOIN ${J} j ON j.ordering = t.ordering WHERE t.tag = ? AND t.ordering > ? ORDER BY t.ordering LIMIT ?`,
  all: `SELECT ${COLUMNS} FROM ${J} WHERE ordering > ? ORDER BY ordering LIMIT ?`,
  persistenceIds: `SELECT persistence_id, position FROM ${S} WHERE position > ? ORDER BY position LIMIT ?`,
  /** `sqlite_sequence` keeps the highest ordering ever assigned, even after the newest events are deleted. */
  highestOrdering: `SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = '${J}'), 0) AS ordering`,
  streamDeletedTo: `SELECT deleted_to FROM ${S} WHERE persistence_id = ?`,
  setDeletedTo: `UPDATE ${S} SET deleted_to = ? WHERE persistence_id = ?`,
  toDelete: `SELECT ordering, tags FROM ${J} WHERE persistence_id = ? AND seq_nr <= ?`,
  deleteTag: `DELETE FROM ${T} WHERE tag = ? AND ordering = ?`,
  deleteEvents: `DELETE FROM ${J} WHERE persistence_id = ? AND seq_nr <= ?`,
} as const

/** The statements of the group-commit transaction body (`append-transaction.js`). */
export const APPEND_SQL: AppendSql = {
  currentSeqNr: SQL.currentSeqNr,
  insertEvent: SQL.insertEvent,
  insertTag: SQL.insertTag,
  insertStream: SQL.insertStream,
}

/** A multi-row insert of `rows` events returning their positions (used on the Kysely path). */
export function insertEventsReturning(rows: number): string {
  const one = '(?, ?, ?, ?, ?, ?, ?, ?, ?)'
  return `INSERT INTO ${J} (${INSERT_COLUMNS}) VALUES ${Array(rows).fill(one).join(', ')} RETURNING ordering, persistence_id, seq_nr`
}

/** A multi-row insert of `rows` tag rows. */
export function insertTags(rows: number): string {
  return `INSERT INTO ${T} (tag, ordering, persistence_id, seq_nr) VALUES ${Array(rows).fill('(?, ?, ?, ?)').join(', ')}`
}

/** A multi-row insert of `rows` new streams. */
export function insertStreams(rows: number): string {
  return `INSERT OR IGNORE INTO ${S} (persistence_id, position, deleted_to) VALUES ${Array(rows).fill('(?, ?, 0)').join(', ')}`
}

/** A row of {@link SQL}'s event selects read as an array (`allValues`): the columns in the order of `COLUMNS`. */
export type JournalRowValues = readonly [
  ordering: number,
  persistenceId: string,
  seqNr: number,
  type: string,
  version: number,
  payload: string,
  metadata: string,
  tags: string,
  writtenAt: number,
  writerId: string,
]

/**
 * Decodes a stored row read as an array; JSON columns are parsed (the empty tags and metadata most events
 * carry without a parse).
 */
export function valuesToEnvelope(row: JournalRowValues): EventEnvelope {
  const tags = row[7]
  const metadata = row[6]
  return {
    ordering: row[0],
    persistenceId: row[1],
    seqNr: row[2],
    type: row[3],
    version: row[4],
    payload: JSON.parse(row[5]) as unknown,
    tags: tags === '[]' ? [] : (JSON.parse(tags) as string[]),
    metadata: metadata === '{}' ? {} : (JSON.parse(metadata) as EventMetadata),
    timestamp: row[8],
    writerId: row[9],
  }
}

/** Wraps a database failure in a {@link JournalError} that says what was being done; statesource errors pass. */
export function journalFailure(
  error: unknown,
  what: string,
  hint = 'Check the database file and retry.',
): Error {
  if (isStatesourceError(error)) return error
  const message = error instanceof Error ? error.message : String(error)
  return new JournalError(`${what} failed: ${message}. ${hint}`, { cause: error })
}
