import type { OffsetStore } from '../offset-store.ts'

/** An {@link OffsetStore} in process memory: offsets last as long as the process. */
export class InMemoryOffsetStore implements OffsetStore {
  readonly #offsets = new Map<string, number>()

  async load(projection: string): Promise<number | undefined> {
    return this.#offsets.get(projection)
  }

  async save(projection: string, ordering: number): Promise<void> {
    this.#offsets.set(projection, ordering)
  }

  async reset(projection: string): Promise<void> {
    this.#offsets.delete(projection)
  }
}

/** Creates an {@link InMemoryOffsetStore}. */
export function createInMemoryOffsetStore(): InMemoryOffsetStore {
  return new InMemoryOffsetStore()
}
