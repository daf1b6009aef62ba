import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'
import { expect, it } from 'vitest'
import { adminQuery, openFresh, pgUrl } from './pg-test-server.ts'

const root = path.resolve(import.meta.dirname, '../../..')
const fixture = (name: string) => path.join(import.meta.dirname, 'fixtures', name)

interface WriterSummary {
  accepted: { rid: string; persistenceId: string; events: number }[]
  rejected: string[]
  failures: number
}

function start(file: string, args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

function finished(
  child: ChildProcess,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  )
}

/** Starts the reader and resolves with its process once it reported progress past `after`. */
function readerPast(url: string, schema: string, after: number, onExit: (code: number | null) => void) {
  const child = start(fixture('soak-reader.ts'), [url, schema])
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  child.on('exit', (code, signal) => {
    if (signal !== 'SIGKILL') onExit(code)
    if (code) console.error(stderr)
  })
  return new Promise<{ child: ChildProcess; offset: () => number }>((resolve) => {
    let offset = 0
    child.stdout!.on('data', (chunk: Buffer) => {
      for (const match of chunk.toString().matchAll(/progress (\d+)/g)) offset = Number(match[1])
      if (offset > after) resolve({ child, offset: () => offset })
    })
  })
}

it('4 writer processes on overlapping streams and a restarting reader: every row once, dense, all-or-nothing, no deadlock', async () => {
  const { pg, schema, dispose } = await openFresh()
  try {
    await adminQuery(`CREATE TABLE "${schema}".soak_seen (ordering bigint NOT NULL)`)
    const url = pgUrl()
    const readerExits: (number | null)[] = []
    const writers = [0, 1, 2, 3].map((w) =>
      finished(start(fixture('soak-writer.ts'), [url, schema, `w${w}`, '30', '8'])),
    )
    const allWritten = Promise.all(writers)

    // The reader is killed (SIGKILL) and restarted from its durable offset while the writers run.
    let restarts = 0
    let lastOffset = 0
    let running = await readerPast(url, schema, 0, (code) => readerExits.push(code))
    let writing = true
    void allWritten.then(() => {
      writing = false
    })
    while (writing && restarts < 3) {
      lastOffset = running.offset()
      running.child.kill('SIGKILL')
      await new Promise((resolve) => running.child.once('exit', resolve))
      restarts++
      running = await readerPast(url, schema, lastOffset, (code) => readerExits.push(code))
    }
    const results = await allWritten
    for (const result of results) {
      expect(result.stderr).toBe('')
      expect(result.code).toBe(0)
    }
    const summaries = results.map((r) => JSON.parse(r.stdout.trim().split('\n').at(-1)!) as WriterSummary)
    const head = await pg.readJournal().highestOrdering()
    // Let the last reader catch up with the head, then stop it.
    while (running.offset() < head) await new Promise((resolve) => setTimeout(resolve, 20))
    running.child.kill('SIGKILL')
    expect(readerExits).toEqual([])
    expect(restarts).toBeGreaterThan(0)

    // Zero failures (a deadlock would be one), and stale requests did happen.
    expect(summaries.map((s) => s.failures)).toEqual([0, 0, 0, 0])
    expect(summaries.reduce((n, s) => n + s.rejected.length, 0)).toBeGreaterThan(0)

    // Every row seen exactly once by the restarting reader.
    const seen = await adminQuery<{ n: string; d: string; lo: string; hi: string }>(
      `SELECT count(*) AS n, count(DISTINCT ordering) AS d, min(ordering) AS lo, max(ordering) AS hi FROM "${schema}".soak_seen`,
    )
    expect(seen[0]).toEqual({ n: String(head), d: String(head), lo: '1', hi: String(head) })

    // Ordering dense; every stream 1..n.
    const rows = await adminQuery<{ ordering: string; persistence_id: string; seq_nr: string; rid: string }>(
      `SELECT ordering, persistence_id, seq_nr, payload->>'rid' AS rid FROM "${schema}".statesource_journal ORDER BY ordering`,
    )
    expect(rows.map((r) => Number(r.ordering))).toEqual(Array.from({ length: head }, (_, i) => i + 1))
    const perStream = new Map<string, number[]>()
    for (const r of rows)
      perStream.set(r.persistence_id, [...(perStream.get(r.persistence_id) ?? []), Number(r.seq_nr)])
    for (const seqNrs of perStream.values()) {
      expect(seqNrs).toEqual(Array.from({ length: seqNrs.length }, (_, i) => i + 1))
    }

    // Every request all-or-nothing: accepted ones stored completely and contiguously, rejected ones not at all.
    const byRequest = new Map<string, number[]>()
    for (const r of rows) byRequest.set(r.rid, [...(byRequest.get(r.rid) ?? []), Number(r.ordering)])
    const accepted = summaries.flatMap((s) => s.accepted)
    expect(byRequest.size).toBe(accepted.length)
    for (const { rid, events } of accepted) {
      const orderings = byRequest.get(rid)
      expect(orderings?.length).toBe(events)
      expect(orderings!.at(-1)! - orderings![0]!).toBe(events - 1)
    }
    for (const rid of summaries.flatMap((s) => s.rejected)) expect(byRequest.has(rid)).toBe(false)
  } finally {
    await dispose()
  }
}, 300_000)
