import { type ChildProcess, spawn } from 'node:child_process'
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createInterface } from 'node:readline'
import { describeWithChromium, type LoopbackPage, openLoopbackPage } from '@statesource/test-support/browser'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { type InspectorRelay, startInspectorRelay } from '../src/index.ts'

// Functions passed to page.evaluate run in the page; the package's TypeScript has no DOM types.
declare const window: any

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const event = (n: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    type: '@xstate.event',
    sessionId: 'x:1',
    event: { type: 'deposited', n },
    _version: '1',
    ...extra,
  })

/** A WebSocket to the relay that collects what it receives. */
async function connect(
  wsUrl: string,
  options: { origin?: string; headers?: Record<string, string> } = {},
): Promise<{ socket: WebSocket; received: string[]; closed: Promise<number> }> {
  const socket = new WebSocket(wsUrl, options)
  socket.on('error', () => {})
  const received: string[] = []
  socket.on('message', (data) => received.push(data.toString()))
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve())
    socket.once('unexpected-response', (_req, res) => reject(new Error(`refused with ${res.statusCode}`)))
    socket.once('error', reject)
  })
  cleanups.push(() => socket.terminate())
  return { socket, received, closed }
}

/** Resolves once `received` holds `count` messages (the relay answers in order, so this is not a race). */
async function nextMessages(socket: WebSocket, received: string[], count: number): Promise<void> {
  while (received.length < count) await new Promise((resolve) => socket.once('message', resolve))
}

/** Sends `message` from `from` and waits until `to` got `marker` after it: everything sent before arrived. */
async function roundTrip(from: WebSocket, to: { socket: WebSocket; received: string[] }, marker: string) {
  from.send(marker)
  while (!to.received.includes(marker)) await new Promise((resolve) => to.socket.once('message', resolve))
}

/** GET with any Host header (fetch does not allow setting it). */
function get(
  url: string,
  host: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => {
        body += chunk
      })
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** Starts `test/relay-host.ts` as a separate application process running a relay. */
async function startRelayProcess(): Promise<{ child: ChildProcess; wsUrl: string; exited: () => boolean }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('./relay-host.ts', import.meta.url).pathname],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  )
  let exited = false
  child.once('exit', () => {
    exited = true
  })
  const [line] = await new Promise<string[]>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (l) => resolve([l]))
    child.once('exit', (code) => reject(new Error(`the relay process exited with ${code}`)))
  })
  return { child, wsUrl: JSON.parse(line!).wsUrl, exited: () => exited }
}

describe('inspector relay: bad frames', () => {
  let app: Awaited<ReturnType<typeof startRelayProcess>>
  beforeAll(async () => {
    app = await startRelayProcess()
  })
  afterAll(async () => {
    if (app.exited()) return
    const exit = new Promise((resolve) => app.child.once('exit', resolve))
    app.child.stdin!.end()
    await exit
  })

  it('closes only the connection of a frame header claiming 2^40 bytes; the application keeps running', async () => {
    const victim = await connect(app.wsUrl)
    const attacker = await connect(app.wsUrl)
    // A masked binary frame whose 64-bit length says 2^40 bytes follow.
    const header = Buffer.from([0x82, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4])
    ;(attacker.socket as unknown as { _socket: { write(b: Buffer): void } })._socket.write(header)
    expect(await attacker.closed).toBe(1009)
    const sender = await connect(app.wsUrl)
    await roundTrip(sender.socket, victim, event(1))
    expect(app.exited()).toBe(false)
  })

  it('closes only the connection that sends a 101 MiB message, and one over maxMessageBytes', async () => {
    const victim = await connect(app.wsUrl)
    const attacker = await connect(app.wsUrl)
    attacker.socket.send(Buffer.alloc(101 * 1024 * 1024, 0x61))
    // 1009 (too big) when the close frame arrives before the relay drops the socket mid-write, else 1006.
    expect([1006, 1009]).toContain(await attacker.closed)
    const second = await connect(app.wsUrl)
    second.socket.send(event(2, { padding: 'p'.repeat(1024 * 1024) }))
    expect(await second.closed).toBe(1009)
    const sender = await connect(app.wsUrl)
    await roundTrip(sender.socket, victim, event(3))
    // Nothing of the oversized messages got through (the relay replays the earlier test's event too).
    expect(victim.received.at(-1)).toBe(event(3))
    expect(victim.received.every((m) => m.length < 1024)).toBe(true)
    expect(app.exited()).toBe(false)
  })
})

describe('inspector relay: who may connect and what it forwards', () => {
  let relay: InspectorRelay
  const start = async (options: Parameters<typeof startInspectorRelay>[0] = {}) => {
    relay = await startInspectorRelay({ port: 0, ...options })
    cleanups.push(() => relay.close())
    return relay
  }

  it('refuses a WebSocket from another origin (403) or under another Host (421); Node clients connect', async () => {
    await start()
    const app = await connect(relay.wsUrl)
    app.socket.send(event(1, { snapshot: { context: { card: '4111 1111 1111 1111' } } }))
    const port = new URL(relay.url).port
    await expect(connect(relay.wsUrl, { origin: 'http://evil.example' })).rejects.toThrow('refused with 403')
    await expect(connect(relay.wsUrl, { origin: `http://127.0.0.1:${Number(port) + 1}` })).rejects.toThrow(
      'refused with 403',
    )
    await expect(connect(relay.wsUrl, { origin: 'null' })).rejects.toThrow('refused with 403')
    await expect(connect(relay.wsUrl, { headers: { host: `evil.example:${port}` } })).rejects.toThrow(
      'refused with 421',
    )
    // The relay's own page, by any loopback name, and a Node app (no Origin) are let in.
    const own = await connect(relay.wsUrl, { origin: `http://localhost:${port}` })
    const node = await connect(relay.wsUrl)
    await nextMessages(own.socket, own.received, 1)
    await nextMessages(node.socket, node.received, 1)
    expect(node.received[0]).toContain('4111')
  })

  it('forwards and replays inspection events only: no other JSON, text or binary data', async () => {
    await start()
    const sender = await connect(relay.wsUrl)
    const receiver = await connect(relay.wsUrl)
    sender.socket.send('not json')
    sender.socket.send(Buffer.from([1, 2, 3]))
    sender.socket.send(JSON.stringify({ type: 'evil', sessionId: 'x' }))
    sender.socket.send(JSON.stringify([{ type: '@xstate.event' }]))
    sender.socket.send(JSON.stringify({ type: '@xstate.event' }))
    const snapshot = JSON.stringify({ type: '@xstate.snapshot', sessionId: 's', snapshot: {}, event: {} })
    sender.socket.send(snapshot)
    await roundTrip(sender.socket, receiver, event(9))
    expect(receiver.received).toEqual([snapshot, event(9)])
    const late = await connect(relay.wsUrl)
    await nextMessages(late.socket, late.received, 2)
    expect(late.received).toEqual([snapshot, event(9)])
  })

  it('bounds the replay buffer in bytes as well as in messages', async () => {
    await start({ bufferBytes: 2_500, bufferSize: 100 })
    const sender = await connect(relay.wsUrl)
    const receiver = await connect(relay.wsUrl)
    const messages = [1, 2, 3, 4, 5].map((n) => event(n, { padding: 'p'.repeat(1_000) }))
    for (const m of messages.slice(0, -1)) sender.socket.send(m)
    await roundTrip(sender.socket, receiver, messages[4]!)
    const late = await connect(relay.wsUrl)
    await nextMessages(late.socket, late.received, 2)
    // Each message is about 1,080 bytes: only the last two fit in 2,500.
    expect(late.received).toEqual(messages.slice(3))
  })

  it('listens beyond loopback only when allowRemote is set', async () => {
    await expect(startInspectorRelay({ port: 0, host: '0.0.0.0' })).rejects.toThrow(
      'The inspector relay listens on loopback only, got host "0.0.0.0": anyone who reaches it sees every inspected command and context. Pass allowRemote: true to listen on "0.0.0.0" anyway, or use an SSH tunnel.',
    )
    await start({ host: '0.0.0.0', allowRemote: true, allowedHosts: ['devbox.lan'] })
    const port = new URL(relay.url).port
    expect((await get(`http://127.0.0.1:${port}/`, `127.0.0.1:${port}`)).status).toBe(200)
    expect((await get(`http://127.0.0.1:${port}/`, `devbox.lan:${port}`)).status).toBe(200)
    expect((await get(`http://127.0.0.1:${port}/`, `evil.example:${port}`)).status).toBe(421)
  })

  it('serves the bridge page only under its own host, with a policy that pins the inspector origin', async () => {
    await start({ inspectorUrl: 'https://stately.ai/inspect' })
    const { port } = new URL(relay.url)
    const rebound = await get(relay.url, `evil.example:${port}`)
    expect(rebound.status).toBe(421)
    expect(rebound.body).not.toContain('WebSocket')
    expect((await get(relay.url, `127.0.0.1:${Number(port) + 1}`)).status).toBe(421)
    const page = await get(relay.url, `localhost:${port}`)
    expect(page.status).toBe(200)
    expect(page.body).not.toContain("'*'")
    expect(page.body).toContain('postMessage(data, inspectorOrigin)')
    expect(page.body).toContain('e.origin !== inspectorOrigin')
    expect(page.headers['content-security-policy']).toMatch(
      /^default-src 'none'; script-src 'sha256-[^']+'; style-src 'sha256-[^']+'; connect-src 'self'; frame-src https:\/\/stately\.ai; frame-ancestors 'none'/,
    )
  })
})

describeWithChromium('inspector relay in Chromium', () => {
  let view: LoopbackPage
  const servers: Server[] = []
  beforeAll(async () => {
    view = await openLoopbackPage()
  })
  afterAll(() => view?.browser.close())
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve))
  })

  /** Serves one HTML page on another loopback port: another origin than the relay's. */
  async function serve(html: string): Promise<string> {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      res.end(html)
    })
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  }

  it('does not let a page of another origin read or send inspection events', async () => {
    const relay = await startInspectorRelay({ port: 0 })
    cleanups.push(() => relay.close())
    const app = await connect(relay.wsUrl)
    app.socket.send(event(1, { snapshot: { context: { card: '4111 1111 1111 1111' } } }))
    const receiver = await connect(relay.wsUrl)
    await nextMessages(receiver.socket, receiver.received, 1)
    const evil = await serve(`<!doctype html><script>
      window.outcome = new Promise((resolve) => {
        const received = []
        const ws = new WebSocket(${JSON.stringify(relay.wsUrl)})
        ws.onopen = () => ws.send(${JSON.stringify(event(666))})
        // The first message read is proof enough; a refused connection ends with close.
        ws.onmessage = (e) => { received.push(e.data); resolve({ received }) }
        ws.onclose = () => resolve({ opened: ws.readyState, received })
      })
    </script>`)
    await view.page.goto(evil)
    const outcome = await view.page.evaluate(() => window.outcome)
    expect(outcome.received).toEqual([])
    await roundTrip(app.socket, receiver, event(2))
    expect(receiver.received).toEqual([receiver.received[0], event(2)])
  })

  it('the bridge page connects under its policy and hands events to the inspector origin only', async () => {
    // A stand-in for the Stately inspector on another origin: says it is ready and counts what it gets.
    const inspector = await serve(`<!doctype html><script>
      window.got = []
      addEventListener('message', (e) => { window.got.push(e.data) })
      parent.postMessage({ type: '@statelyai.connected' }, '*')
    </script>`)
    const relay = await startInspectorRelay({ port: 0, inspectorUrl: inspector })
    cleanups.push(() => relay.close())
    const app = await connect(relay.wsUrl)
    app.socket.send(event(1))
    const violations: string[] = []
    view.page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text())
    })
    await view.page.goto(relay.url)
    const frame = (await (await view.page.waitForSelector('#inspector')).contentFrame())!
    await frame.waitForFunction(() => window.got?.length >= 1)
    app.socket.send(event(2))
    await frame.waitForFunction(() => window.got.length >= 2)
    expect(frame.url()).toBe(inspector)
    expect(await frame.evaluate(() => window.got.map((m: { event: { n: number } }) => m.event.n))).toEqual([
      1, 2,
    ])
    expect(violations).toEqual([])
  })
})
