// One process of `pnpm demo:cluster`: a clustered gateway on the shared PostgreSQL journal, sending its
// share of the commands (for random counters, so most go to other processes' shards) and reporting progress
// and its shard count to the parent once a quarter second.
import { createClusterNode } from './cluster-node.ts'

const { pgUrl, natsUrl, schema, nodeId, commands, counters } = JSON.parse(process.argv[2] ?? '{}') as {
  pgUrl: string
  natsUrl: string
  schema: string
  nodeId: string
  commands: number
  counters: number
}
const send = (message: unknown) => process.send?.(message)

const node = await createClusterNode({
  pgUrl,
  natsUrl,
  schema,
  nodeId,
  address: `pid-${process.pid}`,
  leaseTimeoutMs: 3_000,
  commandTimeoutMs: 20_000,
})

let acked = 0
let failed = 0
const report = () => send({ type: 'progress', acked, failed, owned: node.runtime().ownedShards().length })
const reporter = setInterval(report, 250)

process.on('message', async (message: { type: string }) => {
  if (message.type === 'go') {
    let next = 0
    const worker = async () => {
      while (next < commands) {
        const n = next++
        const id = `c-${Math.floor(Math.random() * counters)}`
        // A failed command is sent again under the same commandId: applied once whatever happened.
        for (;;) {
          try {
            await node.counters.send(id, { type: 'add', by: 1 }, { commandId: `${nodeId}:${n}` })
            acked++
            break
          } catch {
            failed++
          }
        }
      }
    }
    await Promise.all(Array.from({ length: 20 }, worker))
    report()
    send({ type: 'done', acked })
  } else if (message.type === 'leave') {
    clearInterval(reporter)
    await node.leave()
    process.exit(0)
  }
})
report()
send({ type: 'ready' })
