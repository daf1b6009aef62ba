import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { type AnyAggregate, type EventCodecRegistry, StatesourceError } from '@statesource/core'
import { authorityAllowed, isLoopback, isLoopbackName } from '../http/host-check.ts'
import { type JournalSource, splitPersistenceId } from '../journal/journal-source.ts'
import { chartFor, LifecycleReplay } from './lifecycle-replay.ts'

/** Options of {@link startViewer}. */
export interface ViewerConfig {
  /** The journal to show: `(await openSqlite('app.db')).journal`, or any {@link JournalSource}. */
  readonly source: JournalSource
  /** The aggregates whose charts are drawn and replayed. Without them, streams and events are still listed. */
  readonly aggregates?: readonly AnyAggregate[]
  /** Decoders and upcasters for stored events. Default: payloads as stored. */
  readonly codecs?: EventCodecRegistry
  /** Port to listen on. Default 0 (a free port; read `url`). */
  readonly port?: number
  /** A loopback address: `'127.0.0.1'` (default), another `127.x.y.z`, or `'::1'`. */
  readonly host?: string
  /** Events per page the page loads (and per replay checkpoint). Default 200, at most 2,000. */
  readonly pageSize?: number
  /**
   * A page of events is also cut at about this many bytes of JSON (at least one event per page), so pages of
   * large events stay small. Default 4,194,304 (4 MiB).
   */
  readonly pageBytes?: number
  /** How many streams one request of the list returns (the page loads more as it scrolls). Default 200. */
  readonly maxListed?: number
  /** Page title. Default `'statesource lifecycle viewer'`. */
  readonly title?: string
}

/** A running lifecycle viewer. */
export interface Viewer {
  /** Open this in a browser. */
  readonly url: string
  close(): Promise<void>
}

const CLIENT_DIR = fileURLToPath(new URL('./client/', import.meta.url))
const MERMAID = createRequire(import.meta.url).resolve('mermaid/dist/mermaid.min.js')
const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: `${CLIENT_DIR}index.html`, type: 'text/html; charset=utf-8' },
  '/assets/viewer.js': { file: `${CLIENT_DIR}viewer.js`, type: 'text/javascript; charset=utf-8' },
  '/assets/viewer.css': { file: `${CLIENT_DIR}viewer.css`, type: 'text/css; charset=utf-8' },
  '/assets/mermaid.min.js': { file: MERMAID, type: 'text/javascript; charset=utf-8' },
}
const MAX_REPLAYS = 16

/**
 * What the page may load: its own script, style and data, Mermaid's inline SVG styles, nothing from elsewhere,
 * and no framing by other sites.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  // Mermaid writes <style> elements and style attributes into the SVG it draws.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/**
 * Serves the lifecycle viewer: a local page that lists every aggregate (natural order, search, loaded as
 * the list scrolls) and, for one aggregate, draws its statechart beside a clickable timeline of its journal,
 * highlighting the active states and the transition each event took, and showing the context change, the
 * payload and the metadata. The URL hash follows the viewer and moves it.
 *
 * @example
 * ```ts
 * const sqlite = await openSqlite('app.db')
 * const viewer = await startViewer({ source: sqlite.journal, aggregates: [account, order] })
 * console.log(`open ${viewer.url}`)
 * ```
 *
 * @remarks
 * Listens on loopback only and needs no network: the page, its script and the Mermaid bundle are served
 * from this package and `node_modules`. Events are read and replayed in pages of `pageSize` (cut at
 * `pageBytes`), with the replayed state kept at each page boundary, so a 10,000-event history opens as fast
 * as a short one.
 *
 * Every answer carries a Content-Security-Policy (`default-src 'self'`, `frame-ancestors 'none'`). A request
 * whose `Host` is not a loopback name or address with the viewer's port gets `421 Misdirected Request`, so a
 * web page that rebinds its own name to 127.0.0.1 cannot read the journal.
 */
export async function startViewer(config: ViewerConfig): Promise<Viewer> {
  const host = config.host ?? '127.0.0.1'
  if (!isLoopback(host)) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `The viewer listens on loopback only, got host "${host}". Use 127.0.0.1 or ::1 (and an SSH tunnel to view it from elsewhere).`,
    )
  }
  const pageSize = config.pageSize ?? 200
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 2000) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `pageSize must be an integer from 1 to 2000, got ${pageSize}.`,
    )
  }
  const pageBytes = config.pageBytes ?? 4 * 1024 * 1024
  if (!Number.isSafeInteger(pageBytes) || pageBytes < 1) {
    throw new StatesourceError('INVALID_INPUT', `pageBytes must be a positive integer, got ${pageBytes}.`)
  }
  const maxListed = config.maxListed ?? 200
  const port = config.port ?? 0
  const title = config.title ?? 'statesource lifecycle viewer'
  const aggregates = new Map((config.aggregates ?? []).map((a) => [a.type, a]))
  const charts = new Map<string, ReturnType<typeof chartFor>>()
  const streams = streamList(config.source)
  const replays = new Map<string, LifecycleReplay>()

  const replayOf = (pid: string): LifecycleReplay => {
    let replay = replays.get(pid)
    if (replay) {
      // Most recently used last, so the oldest is dropped first.
      replays.delete(pid)
      replays.set(pid, replay)
      return replay
    }
    const aggregate = aggregates.get(splitPersistenceId(pid).type)
    replay = new LifecycleReplay(pid, aggregate, config.codecs, config.source, pageSize)
    replays.set(pid, replay)
    if (replays.size > MAX_REPLAYS) replays.delete(replays.keys().next().value as string)
    return replay
  }
  const chartOf = (type: string) => {
    const aggregate = aggregates.get(type)
    if (!aggregate) return null
    let chart = charts.get(type)
    if (!chart) {
      chart = chartFor(aggregate)
      charts.set(type, chart)
    }
    return chart
  }

  const api = async (path: string, query: URLSearchParams): Promise<unknown> => {
    switch (path) {
      case '/api/streams': {
        const ids = await streams.all()
        const q = (query.get('q') ?? '').toLowerCase()
        const type = query.get('type')
        const offset = integer(query, 'offset', 0, 0)
        const limit = Math.min(integer(query, 'limit', maxListed), maxListed)
        const counts = new Map<string, number>()
        for (const pid of ids) {
          const t = splitPersistenceId(pid).type
          counts.set(t, (counts.get(t) ?? 0) + 1)
        }
        const matching = ids.filter(
          (pid) =>
            (!type || splitPersistenceId(pid).type === type) && (q === '' || pid.toLowerCase().includes(q)),
        )
        const focus = query.get('focus')
        const focusIndex = focus ? matching.indexOf(focus) : -1
        return {
          title,
          pageSize,
          types: [...counts]
            .sort(([a], [b]) => naturalOrder.compare(a, b))
            .map(([t, count]) => ({ type: t, count, chart: aggregates.has(t) })),
          total: matching.length,
          offset,
          limit,
          ...(focusIndex >= 0 ? { focusIndex } : {}),
          streams: matching
            .slice(offset, offset + limit)
            .map((pid) => ({ persistenceId: pid, ...splitPersistenceId(pid) })),
        }
      }
      case '/api/aggregate': {
        const pid = required(query, 'pid')
        const { type, id } = splitPersistenceId(pid)
        const events = await config.source.highestSeqNr(pid)
        return {
          persistenceId: pid,
          type,
          id,
          events,
          pageSize,
          chart: chartOf(type),
          initial: replayOf(pid).initial() ?? null,
        }
      }
      case '/api/steps': {
        const pid = required(query, 'pid')
        const from = integer(query, 'from', 1)
        const limit = Math.min(integer(query, 'limit', pageSize), pageSize)
        return cutAtBytes(await replayOf(pid).steps(from, limit), pageBytes)
      }
      default:
        return undefined
    }
  }

  let listeningPort = port
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const host = req.headers.host
    if (host === undefined || !authorityAllowed(host, listeningPort, isLoopbackName)) {
      return send(
        res,
        421,
        'text/plain; charset=utf-8',
        'Misdirected request: the viewer answers only to a loopback host name with its port.',
      )
    }
    const url = new URL(req.url ?? '/', 'http://viewer')
    if (req.method !== 'GET') return send(res, 405, 'text/plain', 'Only GET is served.')
    const asset = ASSETS[url.pathname]
    if (asset) {
      const body = await readFile(asset.file)
      return send(res, 200, asset.type, body)
    }
    if (url.pathname.startsWith('/api/')) {
      try {
        const body = await api(url.pathname, url.searchParams)
        if (body === undefined) return sendJson(res, 404, { error: `No API route "${url.pathname}".` })
        return sendJson(res, 200, body)
      } catch (error) {
        const status = (error as StatesourceError).code === 'INVALID_INPUT' ? 400 : 500
        return sendJson(res, status, { error: (error as Error).message })
      }
    }
    return send(res, 404, 'text/plain', `Not found: ${url.pathname}`)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      if (!res.headersSent) send(res, 500, 'text/plain', String((error as Error)?.message ?? error))
      else res.destroy()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(
        new StatesourceError(
          'INVALID_INPUT',
          `The viewer cannot listen on ${host}:${port}: ${error.message}. Pick another port.`,
          { cause: error },
        ),
      ),
    )
    server.listen(port, host, resolve)
  })
  const address = server.address() as AddressInfo
  listeningPort = address.port
  const authority =
    address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`
  return {
    url: `http://${authority}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/**
 * A page of steps cut before the step that would take it over `maxBytes` of JSON (a first step larger than
 * that still goes alone); `next` is the sequence number the rest starts at.
 */
function cutAtBytes<T extends { seqNr: number }>(
  steps: T[],
  maxBytes: number,
): { steps: T[]; next?: number } {
  let bytes = 0
  for (let i = 0; i < steps.length; i++) {
    const size = Buffer.byteLength(JSON.stringify(steps[i]))
    if (i > 0 && bytes + size > maxBytes) return { steps: steps.slice(0, i), next: steps[i]!.seqNr }
    bytes += size
  }
  return { steps }
}

function required(query: URLSearchParams, name: string): string {
  const value = query.get(name)
  if (value === null || value === '') {
    throw new StatesourceError('INVALID_INPUT', `The query parameter "${name}" is required.`)
  }
  return value
}

function integer(query: URLSearchParams, name: string, fallback: number, min = 1): number {
  const raw = query.get(name)
  if (raw === null) return fallback
  const value = Number(raw)
  if (!Number.isSafeInteger(value) || value < min) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `The query parameter "${name}" must be ${min === 0 ? 'an integer of at least 0' : 'a positive integer'}, got "${raw}".`,
    )
  }
  return value
}

/** Ids sort the way people count: `o-2` before `o-10`. */
const naturalOrder = new Intl.Collator('en', { numeric: true })

/**
 * Every persistence id of the journal, in natural order. Ids are read once, then only the ones created
 * since the last read, so a request costs one short read however many streams there are.
 */
function streamList(source: JournalSource): { all(): Promise<readonly string[]> } {
  let sorted: string[] = []
  let after = 0
  let reading: Promise<readonly string[]> | undefined
  const read = async () => {
    const added: string[] = []
    for (;;) {
      const page = await source.readPersistenceIds(after, 1000)
      for (const row of page) added.push(row.persistenceId)
      const last = page.at(-1)
      if (last) after = last.position
      if (!last || page.length < 1000) break
    }
    if (added.length > 0) sorted = [...sorted, ...added].sort(naturalOrder.compare)
    return sorted
  }
  return {
    all() {
      // Concurrent requests share one read.
      reading ??= read().finally(() => {
        reading = undefined
      })
      return reading
    },
  }
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'referrer-policy': 'no-referrer',
  })
  res.end(body)
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body))
}
