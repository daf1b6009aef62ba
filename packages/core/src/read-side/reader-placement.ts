/**
 * One reader as a {@link ReaderPlacement} sees it: its name, and how to run it in this process or stop it.
 *
 * @example
 * ```ts
 * const placed: PlacedReader = { name: 'balances', start: async () => {}, stop: async () => {} }
 * ```
 */
export interface PlacedReader {
  /** The reader's name, unique in its topology. */
  readonly name: string
  /** Starts following the journal from the reader's stored offset (and `loadState`). Never rejects. */
  start(): Promise<void>
  /**
   * Stops it: no event is applied from the moment of the call; resolves once the apply under way settled
   * and the offset was saved.
   */
  stop(): Promise<void>
}

/**
 * Decides where readers run. Without one, `materialize()` starts every reader in this process. With one
 * (the cluster's reader leases), the topology hands its readers over instead, and the placement starts and
 * stops each as this process gains and loses the right to run it.
 *
 * @example
 * ```ts
 * const everywhere: ReaderPlacement = {
 *   place(readers) {
 *     for (const reader of readers) void reader.start()
 *     return async () => {
 *       await Promise.all(readers.map((reader) => reader.stop()))
 *     }
 *   },
 * }
 * ```
 *
 * @remarks `place` is called once per materialization; the function it returns is called when the handles
 * stop and must stop the readers it runs here and give the others up.
 */
export interface ReaderPlacement {
  place(readers: readonly PlacedReader[]): () => Promise<void>
}

/** The placement a gateway's snapshot offers (`context.readerPlacement`), if any: a clustered gateway's. */
export function placementOf(gateway: { getSnapshot(): unknown }): ReaderPlacement | undefined {
  const context = (gateway.getSnapshot() as { context?: { readerPlacement?: ReaderPlacement } } | undefined)
    ?.context
  const placement = context?.readerPlacement
  return placement && typeof placement.place === 'function' ? placement : undefined
}
