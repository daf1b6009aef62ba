import { toJson } from '../../internal/json.ts'
import type { SnapshotStore, StoredSnapshot } from '../snapshot-store.ts'

/** A {@link SnapshotStore} in process memory; snapshots are stored as JSON copies. */
export class InMemorySnapshotStore implements SnapshotStore {
  readonly #byId = new Map<string, StoredSnapshot[]>()

  async save(snapshot: StoredSnapshot, options: { keepLast?: number } = {}): Promise<void> {
    const copy = JSON.parse(toJson(snapshot, `Snapshot of "${snapshot.persistenceId}"`)) as StoredSnapshot
    const list = (this.#byId.get(snapshot.persistenceId) ?? []).filter((s) => s.seqNr !== snapshot.seqNr)
    list.push(copy)
    list.sort((a, b) => a.seqNr - b.seqNr)
    const keep = Math.max(1, options.keepLast ?? Number.MAX_SAFE_INTEGER)
    this.#byId.set(snapshot.persistenceId, list.slice(-keep))
  }

  async load(persistenceId: string): Promise<StoredSnapshot | undefined> {
    return this.#byId.get(persistenceId)?.at(-1)
  }

  async deleteTo(persistenceId: string, toSeqNr: number): Promise<void> {
    const list = this.#byId.get(persistenceId)
    if (list)
      this.#byId.set(
        persistenceId,
        list.filter((s) => s.seqNr > toSeqNr),
      )
  }

  async count(persistenceId: string): Promise<number> {
    return this.#byId.get(persistenceId)?.length ?? 0
  }
}

/** Creates an {@link InMemorySnapshotStore}. */
export function createInMemorySnapshotStore(): InMemorySnapshotStore {
  return new InMemorySnapshotStore()
}
