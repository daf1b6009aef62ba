/** What a long-running command (a server) is handed so that a test can wait for it and stop it. */
export interface ServerCommandHooks {
  /** The command calls it with its URL once it accepts connections. */
  onListening(url: string): void
  /** The command awaits it and shuts down when it resolves. */
  untilStopped(): Promise<void>
}

/** A started server command. */
export interface RunningServerCommand {
  readonly url: string
  /**
   * Asks the command to shut down; resolves with its exit code, or rejects with the error it failed with
   * (also when it failed on its own after it started listening).
   */
  stop(): Promise<number>
}

/**
 * Runs a server command (such as the `statesource view` CLI through `runCli`) until it reports its URL.
 * Rejects with the exit code when the command ends before it listens.
 *
 * @example
 * ```ts
 * const viewer = await startServerCommand((hooks) => runCli(['view', 'app.db', '--port', '0'], { out, err, ...hooks }))
 * await page.goto(viewer.url)
 * expect(await viewer.stop()).toBe(0)
 * ```
 */
export function startServerCommand(
  run: (hooks: ServerCommandHooks) => Promise<number>,
): Promise<RunningServerCommand> {
  return new Promise<RunningServerCommand>((resolve, reject) => {
    let requestStop: () => void = () => {}
    const stopped = new Promise<void>((resolveStop) => {
      requestStop = resolveStop
    })
    let listening = false
    const finished = run({
      onListening(url) {
        listening = true
        resolve({
          url,
          stop() {
            requestStop()
            return finished
          },
        })
      },
      untilStopped: () => stopped,
    })
    finished.then(
      (code) => {
        if (!listening) reject(new Error(`The command ended with exit code ${code} before it listened.`))
      },
      (error: unknown) => {
        if (!listening) reject(error)
      },
    )
  })
}
