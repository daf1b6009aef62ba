import type { EventPageSource, Journal } from '@statesource/core'

/**
 * The page reads the audit and the viewer need: streams in creation order and one stream's events by
 * sequence number. `SqliteJournal` (from `@statesource/sqlite`) and `InMemoryJournal` both are one.
 */
export type JournalSource = Pick<EventPageSource, 'readPersistenceIds' | 'readByPersistenceId'> &
  Pick<Journal, 'highestSeqNr'>

/** @internal Every persistence id of the source, read in pages of `pageSize`. */
export async function listPersistenceIds(source: JournalSource, pageSize: number): Promise<string[]> {
  const ids: string[] = []
  let after = 0
  for (;;) {
    const page = await source.readPersistenceIds(after, pageSize)
    for (const row of page) ids.push(row.persistenceId)
    const last = page.at(-1)
    if (!last || page.length < pageSize) return ids
    after = last.position
  }
}

/** @internal Splits `type|id` at the first separator; a persistence id without one has type `''`. */
export function splitPersistenceId(persistenceId: string): { type: string; id: string } {
  const at = persistenceId.indexOf('|')
  return at < 0
    ? { type: '', id: persistenceId }
    : { type: persistenceId.slice(0, at), id: persistenceId.slice(at + 1) }
}
