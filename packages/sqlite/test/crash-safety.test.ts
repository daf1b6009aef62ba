import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { appendRequest, newEvent } from '@statesource/core/testing'
import { lastValueFrom, toArray } from 'rxjs'
import { afterAll, describe, expect, it } from 'vitest'
import { openSqlite } from '../src/index.ts'

const child = fileURLToPath(new URL('./fixtures/append-child.ts', import.meta.url))
const packageDir = fileURLToPath(new URL('..', import.meta.url))
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statesource-crash-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

interface Running {
  process: ChildProcess
  lines: string[]
  /** Resolves once `predicate` holds for the lines printed so far. */
  until(predicate: (lines: string[]) => boolean): Promise<void>
  exited: Promise<number | null>
}

function run(...args: string[]): Running {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, ...args], {
    cwd: packageDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  const waiters: { predicate: (lines: string[]) => boolean; resolve: () => void }[] = []
  let buffered = ''
  let stderr = ''
  const check = () => {
    for (const waiter of [...waiters]) {
      if (waiter.predicate(lines)) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve()
      }
    }
  }
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk
    const parts = buffered.split('\n')
    buffered = parts.pop() ?? ''
    lines.push(...parts)
    check()
  })
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const exited = new Promise<number | null>((resolve) => {
    proc.on('exit', (code) => {
      if (buffered) lines.push(buffered)
      resolve(code)
    })
  })
  return {
    process: proc,
    lines,
    exited,
    until: (predicate) =>
      new Promise<void>((resolve, reject) => {
        if (predicate(lines)) return resolve()
        waiters.push({ predicate, resolve })
        void exited.then((code) => reject(new Error(`child exited (${code}) early:\n${stderr}`)))
      }),
  }
}

describe('crash safety on a real file', () => {
  it('keeps every acknowledged append after SIGKILL mid-load, with no half-written request', async () => {
    const file = path.join(dir, 'killed.db')
    const writer = run(file, 'loop', 'k')
    await writer.until((lines) => lines.filter((l) => l.startsWith('ack ')).length >= 400)
    writer.process.kill('SIGKILL')
    expect(await writer.exited).toBeNull()

    // Everything acknowledged before the kill (the child printed after each commit).
    const acked = new Map<string, number>()
    for (const line of writer.lines) {
      const [kind, pid, seqNr] = line.split(' ')
      if (kind === 'ack' && pid && seqNr) acked.set(pid, Math.max(acked.get(pid) ?? 0, Number(seqNr)))
    }

    const sqlite = await openSqlite(file)
    try {
      expect(sqlite.db!.pragma('integrity_check', { simple: true })).toBe('ok')
      for (const [pid, seqNr] of acked)
        expect(await sqlite.journal.highestSeqNr(pid)).toBeGreaterThanOrEqual(seqNr)

      const all = await lastValueFrom(sqlite.readJournal().currentAllEvents().pipe(toArray()))
      const byStream = new Map<string, typeof all>()
      for (const envelope of all) {
        const list = byStream.get(envelope.persistenceId) ?? []
        list.push(envelope)
        byStream.set(envelope.persistenceId, list)
      }
      for (const [, events] of byStream) {
        // Gapless from 1, and every request complete: event `index` of `of` sits at the right place.
        expect(events.map((e) => e.seqNr)).toEqual(events.map((_, i) => i + 1))
        const requests = new Map<string, number[]>()
        for (const e of events) {
          const payload = e.payload as { request: string; index: number; of: number }
          requests.set(payload.request, [...(requests.get(payload.request) ?? []), payload.index])
        }
        for (const [request, indexes] of requests) {
          const of = (
            events.find((e) => (e.payload as { request: string }).request === request)!.payload as {
              of: number
            }
          ).of
          expect(indexes).toEqual(Array.from({ length: of }, (_, i) => i))
        }
      }
      // The tag table agrees with the journal.
      const even = await lastValueFrom(sqlite.readJournal().currentEventsByTag('crash').pipe(toArray()))
      expect(even.length).toBe(all.length)
      // And the reopened journal keeps appending after the last stored event.
      const [first] = byStream.keys()
      const head = await sqlite.journal.highestSeqNr(first!)
      const [outcome] = await sqlite.journal.append([
        appendRequest(first!, [newEvent('after')], { expectedSeqNr: head }),
      ])
      expect(outcome?.ok).toBe(true)
    } finally {
      await sqlite.close()
    }
  })

  it('lets exactly one of two processes win each sequence number of a shared stream', async () => {
    const file = path.join(dir, 'contended.db')
    // Create the schema first, so both children start appending right away.
    await (await openSqlite(file)).close()
    const a = run(file, 'contend', 'a', '150')
    const b = run(file, 'contend', 'b', '150')
    expect(await a.exited).toBe(0)
    expect(await b.exited).toBe(0)

    const wins = (lines: string[]) =>
      lines.filter((l) => l.startsWith('win ')).map((l) => Number(l.split(' ')[1]))
    const conflicts = [...a.lines, ...b.lines].filter((l) => l.startsWith('conflict ')).length
    const winsA = wins(a.lines)
    const winsB = wins(b.lines)
    // Both started at expected sequence number 0, so at least the first one conflicted.
    expect(conflicts).toBeGreaterThanOrEqual(1)
    expect(winsA.length + winsB.length + conflicts).toBe(300)
    expect(winsA.filter((seqNr) => winsB.includes(seqNr))).toEqual([])

    const sqlite = await openSqlite(file)
    try {
      const events = await sqlite.journal.replay('shared')
      const all = [...winsA, ...winsB].sort((x, y) => x - y)
      expect(events.map((e) => e.seqNr)).toEqual(all)
      expect(events.map((e) => e.seqNr)).toEqual(events.map((_, i) => i + 1))
      for (const e of events)
        expect((e.payload as { by: string }).by).toBe(winsA.includes(e.seqNr) ? 'a' : 'b')
    } finally {
      await sqlite.close()
    }
  })
})
