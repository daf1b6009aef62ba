/** A stored aggregate snapshot: a disposable cache stamped with the machine version that wrote it. */
export interface StoredSnapshot {
  readonly persistenceId: string
  /** The sequence number of the last event folded into `state`. */
  readonly seqNr: number
  /** `machine.getPersistedSnapshot(...)`: JSON-safe. */
  readonly state: unknown
  /**
   * The aggregate's `version` when the snapshot was taken. Another version discards it (the journal is
   * refolded), unless the events it covers were deleted: then it is restored with the new machine.
   */
  readonly machineVersion: string
  readonly timestamp: number
}

/**
 * Stores aggregate snapshots. Errors surface: a failing store rejects.
 *
 * @remarks `keepLast` counts snapshots, not events: `save` with `keepLast: 2` leaves the two newest.
 */
export interface SnapshotStore {
  save(snapshot: StoredSnapshot, options?: { keepLast?: number }): Promise<void>
  /** The newest snapshot of the stream, or `undefined`. */
  load(persistenceId: string): Promise<StoredSnapshot | undefined>
  /** Deletes snapshots with `seqNr <= toSeqNr`. */
  deleteTo(persistenceId: string, toSeqNr: number): Promise<void>
  /** How many snapshots are stored for the stream (for retention checks and tests). */
  count(persistenceId: string): Promise<number>
}
