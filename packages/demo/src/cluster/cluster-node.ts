// A clustered gateway process on the shared PostgreSQL journal, as the cluster demo (node.ts) and the cluster
// benchmark (packages/bench/src/cluster-node.ts) both run it: a counter aggregate, its PostgreSQL journal, the
// NATS connection and the cluster gateway in an actor system. Each caller drives it over IPC its own way.
import { type ClusterGatewaySnapshot, createClusterGatewayLogic } from '@statesource/cluster'
import { createRepository, defineAggregate, silentLogger } from '@statesource/core'
import { openPostgres } from '@statesource/postgres'
import { connect } from 'nats'
import { assign, createActor, setup, spawnChild } from 'xstate'

/**
 * Where a cluster node runs and how long it waits: `leaseTimeoutMs` of silence ends another member's lease,
 * `commandTimeoutMs` bounds each command (and its retries during a handoff).
 *
 * @example
 * ```ts
 * const config: ClusterNodeConfig = {
 *   pgUrl: 'postgres://postgres@127.0.0.1:5432/test',
 *   natsUrl: '127.0.0.1:4222',
 *   schema: 'demo_cluster',
 *   nodeId: 'node-1',
 *   leaseTimeoutMs: 3_000,
 *   commandTimeoutMs: 20_000,
 * }
 * ```
 */
export interface ClusterNodeConfig {
  readonly pgUrl: string
  readonly natsUrl: string
  readonly schema: string
  readonly nodeId: string
  /** Shown in the lease table next to the node id. */
  readonly address?: string
  readonly leaseTimeoutMs: number
  readonly commandTimeoutMs: number
}

/**
 * The aggregate every cluster node serves: a counter, `add` by some amount.
 *
 * @example
 * ```ts
 * await node.counters.send('c-1', { type: 'add', by: 1 })
 * ```
 */
export const counter = defineAggregate({
  type: 'counter',
  machine: setup({
    types: { context: {} as { total: number }, events: {} as { type: 'added'; by: number } },
  }).createMachine({
    id: 'counter',
    context: { total: 0 },
    on: { added: { actions: assign({ total: ({ context, event }) => context.total + event.by }) } },
  }),
  commands: { add: (cmd: { by: number }) => ({ type: 'added', by: cmd.by }) },
})

/**
 * Opens the journal and NATS and starts the cluster gateway: `counters` sends to any counter (the owner of its
 * shard applies it), `runtime()` tells the shards owned and the forwarding counters, `leave()` hands the shards
 * over and closes everything.
 *
 * @example
 * ```ts
 * const node = await createClusterNode(config)
 * console.log(node.runtime().ownedShards().length)
 * await node.leave()
 * ```
 */
export async function createClusterNode(config: ClusterNodeConfig) {
  const db = await openPostgres(config.pgUrl, {
    schema: config.schema,
    writerId: config.nodeId,
    listen: false,
    poolSize: 4,
  })
  const nats = await connect({ servers: config.natsUrl, name: config.nodeId })
  const logic = createClusterGatewayLogic({
    aggregates: [counter],
    journal: db.journal,
    lease: config.pgUrl,
    nats,
    nodeId: config.nodeId,
    address: config.address,
    clusterName: config.schema,
    heartbeatMs: 250,
    leaseTimeoutMs: config.leaseTimeoutMs,
    commandTimeoutMs: config.commandTimeoutMs,
    logger: silentLogger,
  })
  const system = createActor(
    setup({ actors: { gateway: logic } }).createMachine({
      entry: spawnChild('gateway', { systemId: 'gateway' }),
    }),
  ).start()
  const gateway = system.system.get('gateway')!
  const runtime = () => (gateway.getSnapshot() as ClusterGatewaySnapshot).context.runtime
  return {
    counters: createRepository(gateway, counter, { timeoutMs: config.commandTimeoutMs }),
    runtime,
    /** The node's NATS connection (the benchmark times a bare round trip on it). */
    nats,
    async leave() {
      await runtime().leave()
      system.stop()
      await nats.close()
      await db.close()
    },
  }
}
