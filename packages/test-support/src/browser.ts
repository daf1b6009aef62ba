import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium, type Page } from 'playwright-core'
import { describe } from 'vitest'

/** The Chromium the browser tests drive: Debian's package (`apt-get install chromium`), or `CHROMIUM_PATH`. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Screenshots of the browser tests land here (the repository's `test-artifacts/`, not committed). */
export const ARTIFACTS_DIR = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url))

/** Any URL that is not on `http://127.0.0.1` (a lookalike host such as `127.0.0.1.example` included). */
const LEAVES_LOOPBACK = /^(?!http:\/\/127\.0\.0\.1[:/])/

/**
 * Why the browser tests cannot run here, or `undefined` when Chromium is installed at `executablePath`.
 *
 * @example
 * ```ts
 * const missing = chromiumMissing()
 * if (missing) throw new Error(missing)
 * ```
 */
export function chromiumMissing(executablePath = CHROMIUM_PATH): string | undefined {
  if (existsSync(executablePath)) return undefined
  return `Chromium is not installed at ${executablePath}: the viewer's browser tests need it. Install it with "apt-get install -y chromium" (.ci/run does), or set CHROMIUM_PATH.`
}

/**
 * Why the browser tests are skipped on this machine, or `undefined` when they run: they are skipped only when
 * Chromium is missing outside CI. Under `CI=true` (as `.ci/run` sets) they run, so a missing Chromium fails.
 *
 * @example
 * ```ts
 * const reason = browserTestsSkipped()
 * if (reason) console.warn(reason)
 * ```
 */
export function browserTestsSkipped(
  executablePath = CHROMIUM_PATH,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string | undefined {
  if (env.CI === 'true' || env.CI === '1' || !chromiumMissing(executablePath)) return undefined
  return `skipped: no Chromium at ${executablePath}; run "apt-get install -y chromium" or set CHROMIUM_PATH to enable the browser tests`
}

/**
 * `describe` for tests that drive Chromium: where {@link browserTestsSkipped} gives a reason, the block is
 * skipped, with the reason in its name and printed once on stderr.
 *
 * @example
 * ```ts
 * describeWithChromium('lifecycle viewer in Chromium', () => {
 *   it('loads', async () => { ... })
 * })
 * ```
 */
export function describeWithChromium(name: string, body: () => void): void {
  const reason = browserTestsSkipped()
  if (reason === undefined) {
    describe(name, body)
    return
  }
  console.warn(`${name}: ${reason}`)
  describe.skip(`${name} (${reason})`, body)
}

/** A headless Chromium page that can reach loopback only, and the other addresses it tried. */
export interface LoopbackPage {
  readonly browser: Browser
  readonly page: Page
  /**
   * Every request the page (or a popup it opened) made outside `origin`, or, without one, beyond
   * `http://127.0.0.1`; the ones beyond loopback were also aborted. A self-contained page leaves it empty.
   * WebSocket connections are neither recorded nor blocked.
   */
  readonly outside: readonly string[]
}

/**
 * Launches headless Chromium (no sandbox, no GPU, no background traffic) and opens one page whose browser
 * context aborts every request that is not to `http://127.0.0.1`: a page that needs a CDN or leaks a request
 * shows up in `outside`. Throws {@link chromiumMissing}'s message when Chromium is not installed.
 *
 * @example
 * ```ts
 * const { browser, page, outside } = await openLoopbackPage({ origin: url })
 * await page.goto(url)
 * expect(outside).toEqual([])
 * await browser.close()
 * ```
 */
export async function openLoopbackPage(
  options: {
    /** The one origin the page is expected to use, e.g. `http://127.0.0.1:4321/`. */
    origin?: string
    executablePath?: string
    viewport?: { width: number; height: number }
  } = {},
): Promise<LoopbackPage> {
  const executablePath = options.executablePath ?? CHROMIUM_PATH
  const missing = chromiumMissing(executablePath)
  if (missing) throw new Error(missing)
  const browser = await chromium.launch({
    executablePath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  try {
    const context = await browser.newContext({ viewport: options.viewport ?? { width: 1400, height: 1000 } })
    const outside: string[] = []
    // `http://127.0.0.1:4321/`, so that port 43210 does not pass for 4321.
    const expected = options.origin === undefined ? undefined : `${new URL(options.origin).origin}/`
    context.on('request', (request) => {
      const url = request.url()
      if (expected === undefined ? LEAVES_LOOPBACK.test(url) : !url.startsWith(expected)) outside.push(url)
    })
    await context.route(LEAVES_LOOPBACK, (route) => route.abort())
    const page = await context.newPage()
    return { browser, page, outside }
  } catch (error) {
    await browser.close()
    throw error
  }
}

/**
 * Saves a full-page screenshot as `test-artifacts/<name>` and returns its path, after checking that the
 * file is a PNG with content.
 *
 * @example
 * ```ts
 * const shot = await saveScreenshot(page, 'viewer.png')
 * ```
 */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true })
  const file = path.join(ARTIFACTS_DIR, name)
  await page.screenshot({ path: file, fullPage: true })
  const bytes = readFileSync(file)
  if (bytes.length < 100 || bytes.subarray(1, 4).toString() !== 'PNG') {
    throw new Error(`The screenshot ${file} is not a PNG with content (${bytes.length} bytes).`)
  }
  return file
}
