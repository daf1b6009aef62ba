// Clustered gateway
export { ClusterGatewayRuntime, createClusterGatewayLogic } from './cluster-gateway.ts'
export type {
  ClusterGatewayConfig,
  ClusterGatewayLogic,
  ClusterGatewaySnapshot,
  ClusterGatewayStats,
  ReaderEvent,
  ShardEvent,
} from './cluster-gateway.ts'

// Shards and their leases
export { DEFAULT_SHARD_COUNT, lockNamespace, shardOf } from './shard.ts'
export { ShardLeases } from './shard-leases.ts'
export type { ShardLeasesConfig } from './shard-leases.ts'
