/**
 * The cluster rows of `pnpm bench`: commands/s with 1, 2, 3 and 4 gateway processes of one cluster on one
 * PostgreSQL (100 commands in flight in total, sent from every process to random ids, so with n processes
 * (n − 1)/n of them are forwarded over NATS), CPU per command across the processes, and the cost of
 * routing: the median latency of a command sent to a process that does not own its shard minus one sent to
 * the owner (sampled interleaved), beside a bare NATS request/reply between the same two processes.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { openPostgres } from '@statesource/postgres'
import pg from 'pg'

const NODE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'cluster-node.ts')
const SHARDS = 1_024
const IDS = 500

export interface ClusterBenchRow {
  readonly processes: number
  readonly commands: number
  readonly commandsPerSec: number
  readonly cpuUsPerCommand: number
  readonly forwardedShare: number
  readonly errors: number
  readonly retries: number
}

export interface ClusterBenchRun {
  readonly rows: readonly ClusterBenchRow[]
  readonly localUs: number
  readonly remoteUs: number
  /** A bare NATS request/reply between the same two processes: the floor of routing. */
  readonly natsUs: number
  readonly results: Record<`cluster_cmds_per_s_${1 | 2 | 3 | 4}`, number> & {
    readonly cluster_routing_overhead_us: number
  }
}

class BenchNode {
  readonly child: ChildProcess
  readonly ready: Promise<void>
  readonly exited: Promise<void>
  constructor(options: { pgUrl: string; natsUrl: string; schema: string; nodeId: string }) {
    this.child = fork(NODE, [JSON.stringify(options)], {
      execArgv: ['--conditions=@statesource/source', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()))
    this.ready = this.next('ready').then(() => undefined)
  }
  next(type: string): Promise<any> {
    return new Promise((resolve) => {
      const on = (message: { type: string }) => {
        if (message.type !== type) return
        this.child.off('message', on)
        resolve(message)
      }
      this.child.on('message', on)
    })
  }
  ask(message: Record<string, unknown> & { type: string }, answer: string): Promise<any> {
    const reply = this.next(answer)
    this.child.send(message)
    return reply
  }
}

async function balanced(nodes: BenchNode[]): Promise<void> {
  const fair = Math.ceil(SHARDS / nodes.length)
  for (;;) {
    const counts = (await Promise.all(nodes.map((n) => n.ask({ type: 'owned' }, 'owned')))).map(
      (m: { count: number }) => m.count,
    )
    if (counts.reduce((a, b) => a + b, 0) === SHARDS && counts.every((c) => c <= fair)) return
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

async function adminQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(text)
  } finally {
    await client.end()
  }
}

async function runCluster(
  options: { pgUrl: string; natsUrl: string; durationMs: number },
  processes: number,
  measureLatency: boolean,
): Promise<{ row: ClusterBenchRow; latency?: { localUs: number; remoteUs: number; natsUs: number } }> {
  const schema = `bench_cluster_${randomUUID().replaceAll('-', '').slice(0, 10)}`
  const db = await openPostgres(options.pgUrl, { schema, listen: false, poolSize: 1 })
  await db.close()
  const nodes = Array.from(
    { length: processes },
    (_, i) => new BenchNode({ pgUrl: options.pgUrl, natsUrl: options.natsUrl, schema, nodeId: `b${i + 1}` }),
  )
  try {
    await Promise.all(nodes.map((n) => n.ready))
    await balanced(nodes)
    const latency = measureLatency
      ? await nodes[0]!.ask({ type: 'latency', samples: 50, peer: 'b2' }, 'latency')
      : undefined
    const perNode = Math.max(1, Math.round(100 / processes))
    const results = await Promise.all(
      nodes.map((n) =>
        n.ask(
          {
            type: 'load',
            ids: IDS,
            concurrency: perNode,
            durationMs: options.durationMs,
            warmMs: options.durationMs,
          },
          'loaded',
        ),
      ),
    )
    const commands = results.reduce((s, r) => s + r.commands, 0)
    const elapsed = Math.max(...results.map((r) => r.elapsedMs))
    const forwarded = results.reduce((s, r) => s + r.forwarded, 0)
    const row: ClusterBenchRow = {
      processes,
      commands,
      commandsPerSec: (commands / elapsed) * 1_000,
      cpuUsPerCommand: results.reduce((s, r) => s + r.cpuUs, 0) / Math.max(1, commands),
      forwardedShare: forwarded / Math.max(1, commands),
      errors: results.reduce((s, r) => s + r.errors, 0),
      retries: results.reduce((s, r) => s + r.retries, 0),
    }
    return { row, ...(latency ? { latency } : {}) }
  } finally {
    await Promise.all(
      nodes.map(async (n) => {
        if (n.child.exitCode === null) n.child.send({ type: 'leave' })
        const timer = setTimeout(() => n.child.kill('SIGKILL'), 15_000)
        await n.exited
        clearTimeout(timer)
      }),
    )
    await adminQuery(options.pgUrl, `DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  }
}

/** Runs the cluster rows: 1 to 4 processes, then the routing cost measured in a 2-process cluster. */
export async function runClusterBench(options: {
  pgUrl: string
  natsUrl: string
  quick?: boolean
  log?: (line: string) => void
}): Promise<ClusterBenchRun> {
  const log = options.log ?? (() => undefined)
  const durationMs = options.quick ? 2_000 : 5_000
  const rows: ClusterBenchRow[] = []
  let latency = { localUs: 0, remoteUs: 0, natsUs: 0 }
  for (const processes of [1, 2, 3, 4]) {
    log(`cluster with ${processes} process(es)`)
    const run = await runCluster({ ...options, durationMs }, processes, processes === 2)
    rows.push(run.row)
    if (run.latency) latency = run.latency
  }
  const at = (p: number) => Math.round(rows.find((r) => r.processes === p)!.commandsPerSec)
  return {
    rows,
    ...latency,
    results: {
      cluster_cmds_per_s_1: at(1),
      cluster_cmds_per_s_2: at(2),
      cluster_cmds_per_s_3: at(3),
      cluster_cmds_per_s_4: at(4),
      cluster_routing_overhead_us: Math.round(latency.remoteUs - latency.localUs),
    },
  }
}

/** The cluster section of the benchmark report, as markdown. */
export function formatClusterTable(run: ClusterBenchRun): string {
  const n = (x: number) => Math.round(x).toLocaleString('en-US')
  return `${[
    'One cluster on one PostgreSQL and one NATS server, all on this machine; 100 commands in flight in total, spread over the processes, each sent to a random one of 500 counters (after a warm-up as long as the measured window, so they are live) from the process that generates it (so with n processes about (n − 1)/n are forwarded to the owner over NATS). CPU: user + system time of the gateway processes per command (PostgreSQL and NATS not counted).',
    '',
    '| processes | commands | commands/s | CPU µs per command | forwarded | retried | errors |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...run.rows.map(
      (r) =>
        `| ${r.processes} | ${n(r.commands)} | ${n(r.commandsPerSec)} | ${n(r.cpuUsPerCommand)} | ${Math.round(r.forwardedShare * 100)} % | ${r.retries} | ${r.errors} |`,
    ),
    '',
    `Routing: one command at a time, interleaved, median ${n(run.localUs)} µs sent to the owner, ${n(run.remoteUs)} µs sent to a process that forwards it: ${n(run.results.cluster_routing_overhead_us)} µs of routing, against ${n(run.natsUs)} µs for a bare NATS request/reply between the same two processes.`,
  ].join('\n')}\n`
}

const MARKERS = { start: '<!-- cluster-bench:start -->', end: '<!-- cluster-bench:end -->' }

/** Writes the cluster section into `docsPath` (between its markers) and merges its keys into `jsonPath`. */
export function writeClusterReport(run: ClusterBenchRun, docsPath: string, jsonPath: string): void {
  const page = readFileSync(docsPath, 'utf8')
  const start = page.indexOf(MARKERS.start)
  const end = page.indexOf(MARKERS.end)
  const section = `${MARKERS.start}\n${formatClusterTable(run)}${MARKERS.end}`
  writeFileSync(
    docsPath,
    start >= 0 && end > start
      ? `${page.slice(0, start)}${section}${page.slice(end + MARKERS.end.length)}`
      : `${page.trimEnd()}\n\n## Cluster\n\n${section}\n`,
  )
  let json: Record<string, unknown> = {}
  try {
    json = JSON.parse(readFileSync(jsonPath, 'utf8')) as Record<string, unknown>
  } catch {
    // No other run yet: the file holds the cluster keys only.
  }
  writeFileSync(jsonPath, `${JSON.stringify({ ...json, ...run.results, cluster_rows: run.rows }, null, 2)}\n`)
}
