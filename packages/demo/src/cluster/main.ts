// `pnpm demo:cluster [-- --kill-one] [--pg URL] [--nats HOST:PORT]`: three gateway processes share one
// PostgreSQL journal and route commands to each other's shards over NATS. A progress bar per process, the
// shard map from pg_locks at the start and the end, and with --kill-one the third process is SIGKILLed
// half-way so its shards move to the other two while the load goes on.
import { type ChildProcess, fork } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { openPostgres } from '@statesource/postgres'
import pg from 'pg'
import { formatCount } from '../progress.ts'

const argument = (name: string) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const pgUrl = argument('--pg') ?? process.env.STATESOURCE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const natsUrl = argument('--nats') ?? process.env.STATESOURCE_NATS_URL ?? '127.0.0.1:4222'
const killOne = process.argv.includes('--kill-one')
const perNode = Number(argument('--commands') ?? 2_000)
const NODE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'node.ts')
const out = (line: string) => process.stdout.write(`${line}\n`)

const schema = `demo_cluster_${randomUUID().replaceAll('-', '').slice(0, 10)}`
const admin = new pg.Client({ connectionString: pgUrl })
await admin.connect()
await (await openPostgres(pgUrl, { schema, listen: false, poolSize: 1 })).close()

interface NodeState {
  readonly id: string
  readonly child: ChildProcess
  acked: number
  failed: number
  owned: number
  done: boolean
  killed: boolean
}
const nodes: NodeState[] = ['node-1', 'node-2', 'node-3'].map((id) => {
  const child = fork(
    NODE,
    [JSON.stringify({ pgUrl, natsUrl, schema, nodeId: id, commands: perNode, counters: 300 })],
    {
      execArgv: ['--conditions=@statesource/source', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  )
  const state: NodeState = { id, child, acked: 0, failed: 0, owned: 0, done: false, killed: false }
  child.on('message', (m: { type: string; acked?: number; failed?: number; owned?: number }) => {
    if (m.type === 'progress') Object.assign(state, { acked: m.acked, failed: m.failed, owned: m.owned })
    if (m.type === 'done') state.done = true
  })
  return state
})
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const live = () => nodes.filter((n) => !n.killed)
const shardMap = async (title: string) => {
  const rows = (
    await admin.query<{ name: string; shards: string }>(
      `SELECT a.application_name AS name, count(*) AS shards
         FROM pg_locks l JOIN pg_stat_activity a USING (pid)
        WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND a.application_name LIKE $1
        GROUP BY 1 ORDER BY 1`,
      [`statesource:${schema}:%`],
    )
  ).rows
  out(`${title} (pg_locks ⨝ pg_stat_activity):`)
  for (const row of rows) out(`  ${row.name.padEnd(48)} ${row.shards.padStart(5)} shards`)
}

out(
  `statesource cluster demo: 3 processes, PostgreSQL ${pgUrl.replace(/\/\/[^@]*@/, '//')}, NATS ${natsUrl}, schema ${schema}`,
)
while (live().reduce((s, n) => s + n.owned, 0) < 1_024 || live().some((n) => n.owned > 342)) await sleep(100)
await shardMap('Shards at the start')
for (const n of nodes) n.child.send({ type: 'go' })
const bar = (n: NodeState) => {
  const width = 24
  const filled = Math.round((Math.min(n.acked, perNode) / perNode) * width)
  const status = n.killed ? 'KILLED' : n.done ? 'done' : ''
  return `  ${n.id} [${'█'.repeat(filled)}${'·'.repeat(width - filled)}] ${formatCount(n.acked).padStart(6)}/${formatCount(perNode)}  ${String(n.owned).padStart(4)} shards  ${n.failed ? `${n.failed} retried ` : ''}${status}`
}
let killedAt = 0
let movedIn = 0
const started = Date.now()
while (!live().every((n) => n.done)) {
  await sleep(1_000)
  out(`t+${((Date.now() - started) / 1000).toFixed(0)}s`)
  for (const n of nodes) out(bar(n))
  const victim = nodes[2]!
  if (killOne && !victim.killed && victim.acked >= perNode / 2) {
    out(`  → SIGKILL ${victim.id}, which owns ${victim.owned} shards`)
    victim.child.kill('SIGKILL')
    victim.killed = true
    killedAt = Date.now()
  }
  if (killedAt && !movedIn && live().reduce((s, n) => s + n.owned, 0) === 1_024) {
    movedIn = Date.now() - killedAt
    out(`  → its shards moved to the others within ${formatCount(movedIn)} ms`)
  }
}
// With a short run the others may finish before they took the killed process's shards: wait for the move.
while (killedAt && !movedIn) {
  await sleep(100)
  if (live().reduce((s, n) => s + n.owned, 0) === 1_024) {
    movedIn = Date.now() - killedAt
    out(`  → its shards moved to the others within ${formatCount(movedIn)} ms`)
  }
}
await shardMap('Shards at the end')
const [counts] = (
  await admin.query<{ events: string; distinct: string }>(
    `SELECT count(*) AS events, count(DISTINCT metadata->>'commandId') AS distinct FROM "${schema}".statesource_journal`,
  )
).rows
const acked = nodes.reduce((s, n) => s + n.acked, 0)
out(
  `Journal: ${formatCount(Number(counts?.events))} events for ${formatCount(Number(counts?.distinct))} distinct commandIds; ${formatCount(acked)} acknowledged (a killed process may have written a few it could not report).`,
)
await Promise.all(
  live().map(
    (n) =>
      new Promise<void>((resolve) => {
        n.child.once('exit', () => resolve())
        n.child.send({ type: 'leave' })
      }),
  ),
)
await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
await admin.end()
if (Number(counts?.events) !== Number(counts?.distinct) || Number(counts?.events) < acked) {
  out('FAILED: a command was applied twice or an acknowledged one is missing.')
  process.exit(1)
}
out('Every acknowledged command is in the journal exactly once.')
