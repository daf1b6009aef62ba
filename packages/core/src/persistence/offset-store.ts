/** Durable reader offsets: the global ordering of the last event a projection applied. */
export interface OffsetStore {
  load(projection: string): Promise<number | undefined>
  save(projection: string, ordering: number): Promise<void>
  /** Forgets the offset (used by rebuilds). */
  reset(projection: string): Promise<void>
}
