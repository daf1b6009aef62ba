import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { openSqlite, type StatesourceSqlite } from '@statesource/sqlite'
import { afterAll, describe, expect, it } from 'vitest'
import { counter, counterTopology } from './fixtures/read-side-projection.ts'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statesource-read-side-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '../..')

function count(sqlite: StatesourceSqlite, table: string): number {
  return (sqlite.db!.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n
}

async function seed(file: string, streams: number, perStream: number): Promise<number> {
  const sqlite = await openSqlite(file)
  for (let s = 0; s < streams; s++) {
    const outcomes = await sqlite.journal.append([
      {
        persistenceId: counter.persistenceId(`c-${s}`),
        expectedSeqNr: 0,
        events: Array.from({ length: perStream }, () => ({
          type: 'added',
          version: 1,
          payload: { by: 1 },
          tags: ['count'],
          metadata: {},
        })),
      },
    ])
    expect(outcomes.every((o) => o.ok)).toBe(true)
  }
  const head = await sqlite.readJournal().highestOrdering()
  await sqlite.close()
  return head
}

describe('read side on SQLite: exactly-once across restarts', () => {
  it('resumes from the committed offset after the process is killed mid-page, applying every event once', async () => {
    const file = path.join(dir, 'crash.db')
    const head = await seed(file, 6, 1_000)

    // Run 1, in a child process killed with SIGKILL while the reader is catching up.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(here, 'fixtures/read-side-crash-child.ts'), file],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    )
    // Kill the process as soon as a few pages are committed: it is then in the middle of the next one.
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('progress')) resolve()
      })
      child.on('exit', () => reject(new Error('the child exited before reporting progress')))
    })
    child.kill('SIGKILL')
    expect(await exited).toBe('SIGKILL')
    const watcher = await openSqlite(file)
    const committed = count(watcher, 'applied')
    const offset = await watcher.offsetStore.load('applied')
    const lastRow = watcher.db!.prepare('SELECT max(ordering) AS o FROM applied').get() as { o: number }
    await watcher.close()
    expect(committed).toBeLessThan(head)
    // The offset and the rows committed together: the offset is exactly the last applied row.
    expect(committed).toBeGreaterThanOrEqual(1_000)
    expect(offset).toBe(lastRow.o)

    // Run 2, in this process: resumes after the committed offset.
    const sqlite = await openSqlite(file)
    const { builder, applied } = counterTopology(sqlite)
    const handles = await builder.build().materialize()
    await applied.waitForOffset(head, { timeout: 30_000 })
    expect(applied.status.phase).not.toBe('halted')
    expect(applied.status.applied).toBe(head - committed)
    expect(applied.state).toBe(head)
    expect(count(sqlite, 'applied')).toBe(head)
    const total = sqlite.db!.prepare('SELECT sum(total) AS t FROM totals').get() as { t: number }
    expect(total.t).toBe(head)
    await handles.stop()
    await sqlite.close()
  })

  it('rolls back a failing event alone, commits the page before it, and applies it once after a restart', async () => {
    const file = path.join(dir, 'poison.db')
    const sqlite = await openSqlite(file)
    const first = counterTopology(sqlite, { poison: { ordering: 3 } })
    const handles = await first.builder.build().materialize()
    let last = 0
    for (let i = 0; i < 5; i++)
      last = (await handles.repository(counter).send('p-1', { type: 'add', by: 10 })).ordering
    await expect(first.applied.waitForOffset(last)).rejects.toThrow(/halted at event 3 of "counter\|p-1"/)
    // Event 3 wrote to `totals` before throwing: its savepoint rolled that back.
    expect(count(sqlite, 'applied')).toBe(2)
    expect((sqlite.db!.prepare('SELECT total FROM totals').get() as { total: number }).total).toBe(20)
    expect(await sqlite.offsetStore.load('applied')).toBe(2)
    await handles.stop()

    // Restart with the fix: only events 3..5 are applied, each once.
    const second = counterTopology(sqlite)
    const again = await second.builder.build().materialize()
    const sent = await again.repository(counter).send('p-1', { type: 'add', by: 10 })
    await second.applied.waitForOffset(sent.ordering)
    expect(second.applied.status.applied).toBe(4)
    expect(second.applied.state).toBe(6)
    expect((sqlite.db!.prepare('SELECT total FROM totals').get() as { total: number }).total).toBe(60)

    // A rebuild clears the tables and the offset in one transaction and replays.
    await again.rebuildProjection('applied')
    expect(count(sqlite, 'applied')).toBe(6)
    expect((sqlite.db!.prepare('SELECT total FROM totals').get() as { total: number }).total).toBe(60)
    await again.stop()
    await sqlite.close()
  })
})
