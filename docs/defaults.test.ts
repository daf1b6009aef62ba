import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  CQRS_DEFAULTS,
  DEFAULT_AUDIT_CAPACITY,
  DEFAULT_INPUT_LIMITS,
  READ_JOURNAL_DEFAULTS,
} from '@statesource/core'
import { SQLITE_DEFAULTS } from '@statesource/sqlite'
import { describe, expect, it } from 'vitest'

// Every option default the docs state is checked here against the one object the code reads it from
// (CQRS_DEFAULTS, READ_JOURNAL_DEFAULTS, SQLITE_DEFAULTS, DEFAULT_AUDIT_CAPACITY): change a default there
// and this test names every sentence and table cell that must follow.

const docs = path.dirname(fileURLToPath(import.meta.url))
const page = (name: string) => readFileSync(path.join(docs, name), 'utf8')

/** `12345` as the docs write it: `12,345`. */
const n = (value: number) => value.toLocaleString('en-US')

/** The rows of the first markdown table after `heading`, as `{ first cell: [other cells] }`. */
function table(markdown: string, heading: string): Map<string, string[]> {
  const start = markdown.indexOf(heading)
  expect(start, `heading "${heading}"`).toBeGreaterThanOrEqual(0)
  const lines = markdown.slice(start).split('\n')
  const first = lines.findIndex((line) => line.startsWith('|'))
  const rows = new Map<string, string[]>()
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break
    const cells = line
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim())
    rows.set(cells[0]!, cells.slice(1))
  }
  return rows
}

describe('option defaults in the docs match the code', () => {
  it('the gateway defaults table (concepts/gateway.md)', () => {
    const d = CQRS_DEFAULTS
    const expected: Record<string, string> = {
      'recovery permits': `${d.recoveryPermits}`,
      'repository timeout': `${n(d.repositoryTimeoutMs)} ms`,
      'idle timeout / max live': `${n(d.idleTimeoutMs)} ms / ${n(d.maxLive)}`,
      'restart limit': `${d.restartLimit.maxRestarts} restarts within ${n(d.restartLimit.withinMs)} ms`,
      'idempotency window': `${d.dedupeWindow} command ids per aggregate`,
      snapshots: `off; with a store every ${d.snapshotEvery} events, keep ${d.snapshotKeepLast}`,
      'command queue (back-pressure)': `${n(d.commandQueue.maxPerAggregate)} waiting per aggregate, ${n(d.commandQueue.maxTotal)} in total; beyond: \`OVERLOADED\` at once`,
      'persistence id length': `${n(DEFAULT_INPUT_LIMITS.maxPersistenceIdBytes)} bytes, checked at intake`,
    }
    const rows = table(page('concepts/gateway.md'), '## Defaults')
    // A new row needs a check here: no default in the table goes unchecked.
    expect([...rows.keys()].sort()).toEqual(Object.keys(expected).sort())
    for (const [setting, value] of Object.entries(expected))
      expect(rows.get(setting)?.[0], setting).toBe(value)
  })

  it('the openSqlite settings table (guides/sqlite.md)', () => {
    const rows = table(page('guides/sqlite.md'), '## What `openSqlite` sets up')
    const expected: Record<string, string> = {
      '`journal_mode`': '`WAL` (always)',
      '`synchronous`': `\`${SQLITE_DEFAULTS.synchronous}\``,
      '`busy_timeout`': `${SQLITE_DEFAULTS.busyTimeoutMs} ms`,
      '`wal_autocheckpoint`': "SQLite's default, 1000 pages (about 4 MB)",
    }
    expect([...rows.keys()].sort()).toEqual(Object.keys(expected).sort())
    for (const [setting, value] of Object.entries(expected))
      expect(rows.get(setting)?.[0], setting).toBe(value)
  })

  it('the audit log options table (guides/audit-log.md)', () => {
    const rows = table(page('guides/audit-log.md'), '| option | default |')
    expect(rows.get('`capacity`')?.[0]).toBe(`${n(DEFAULT_AUDIT_CAPACITY)} (\`DEFAULT_AUDIT_CAPACITY\`)`)
  })

  // Defaults stated in running text, each with the source it must match.
  const sentences: [page: string, text: string][] = [
    ['concepts/gateway.md', `(default ${n(CQRS_DEFAULTS.snapshotEvery)}; a command`],
    ['concepts/gateway.md', `snapshots (counted in snapshots, default ${CQRS_DEFAULTS.snapshotKeepLast})`],
    ['concepts/gateway.md', `\`passivation.maxLive\` (default ${n(CQRS_DEFAULTS.maxLive)})`],
    ['concepts/repository.md', `(default ${CQRS_DEFAULTS.dedupeWindow})`],
    [
      'concepts/repository.md',
      `(default \`repositoryTimeout\`, ${CQRS_DEFAULTS.repositoryTimeoutMs / 1000} s)`,
    ],
    ['concepts/journal.md', `\`pageSize\` rows (default ${READ_JOURNAL_DEFAULTS.pageSize})`],
    ['concepts/journal.md', `every \`pollIntervalMs\` (default ${READ_JOURNAL_DEFAULTS.pollIntervalMs})`],
    ['concepts/journal.md', `${n(SQLITE_DEFAULTS.maxBatchEvents)}, events are queued`],
    ['guides/sqlite.md', `\`maxBatchEvents\`, default ${SQLITE_DEFAULTS.maxBatchEvents},`],
    ['guides/sqlite.md', `(\`pollIntervalMs\`, default ${READ_JOURNAL_DEFAULTS.pollIntervalMs})`],
    ['guides/sqlite.md', `- **\`${SQLITE_DEFAULTS.synchronous}\`** (default)`],
    ['guides/scheduling.md', `(default ${CQRS_DEFAULTS.dedupeWindow}) command ids`],
    ['guides/extensions.md', `(\`bufferSize\`, default ${n(CQRS_DEFAULTS.tapBufferSize)} items)`],
    ['guides/extensions.md', `drop-oldest buffer of ${n(CQRS_DEFAULTS.streamBufferSize)} items (builder`],
    ['guides/extensions.md', `(default ${n(CQRS_DEFAULTS.interceptorTimeoutMs)} ms)`],
    ['guides/testing.md', `every ${CQRS_DEFAULTS.pollIntervalMs} ms for readers wired by the builder`],
    [
      'guides/testing.md',
      `${READ_JOURNAL_DEFAULTS.pollIntervalMs} ms for a read journal you create yourself`,
    ],
  ]
  for (const [name, text] of sentences) {
    it(`${name} says "${text}"`, () => {
      expect(page(name).replace(/\s+/g, ' ')).toContain(text)
    })
  }
})
