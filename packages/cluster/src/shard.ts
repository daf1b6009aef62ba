/** Default number of shards of a cluster: fixed for the cluster's lifetime. */
export const DEFAULT_SHARD_COUNT = 1_024

const encoder = new TextEncoder()

/**
 * The shard of a persistence id: 32-bit FNV-1a over the id's UTF-8 bytes, modulo `shardCount`.
 *
 * The hash is part of the cluster's contract: every process, of every version of this package, must put an
 * id in the same shard, so it is defined here byte for byte (offset basis `0x811c9dc5`, prime `0x01000193`)
 * and never depends on the platform or on JavaScript's string internals. Changing `shardCount` moves ids
 * between shards: stop every process of the cluster before changing it.
 *
 * @example
 * ```ts
 * shardOf('counter|c-1', 1024) // 0 … 1023, the same in every process
 * ```
 */
export function shardOf(persistenceId: string, shardCount: number = DEFAULT_SHARD_COUNT): number {
  const bytes = encoder.encode(persistenceId)
  let hash = 0x811c9dc5
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193)
  return (hash >>> 0) % shardCount
}

/** A positive 31-bit FNV-1a hash of a text: the advisory-lock namespace of a cluster name. */
export function lockNamespace(clusterName: string): number {
  let hash = 0x811c9dc5
  for (const byte of encoder.encode(`statesource.cluster:${clusterName}`))
    hash = Math.imul(hash ^ byte, 0x01000193)
  return (hash >>> 0) & 0x7fffffff
}
