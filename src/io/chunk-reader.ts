// Exact byte counts out of a chunked stream (a gunzip stream, standard input), without
// re-concatenating what was already read: the tar reader's headers and members, a .npy's rows.

/** Pulls exact byte counts out of a chunked stream without re-concatenating what was already read. */
export class ChunkReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private done = false;

  constructor(
    private readonly source: AsyncIterator<Buffer>,
    private readonly fail: (msg: string) => never,
  ) {}

  private async fill(n: number): Promise<void> {
    while (this.buffered < n && !this.done) {
      let next: IteratorResult<Buffer>;
      try {
        next = await this.source.next();
      } catch (err) {
        return this.fail(`cannot read: ${(err as Error).message}`);
      }
      if (next.done) this.done = true;
      else {
        this.chunks.push(next.value);
        this.buffered += next.value.length;
      }
    }
  }

  /** Exactly n bytes, or fewer only at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    await this.fill(n);
    const take = Math.min(n, this.buffered);
    const parts: Buffer[] = [];
    let need = take;
    while (need > 0) {
      const head = this.chunks[0];
      if (head.length <= need) {
        parts.push(head);
        this.chunks.shift();
        need -= head.length;
      } else {
        parts.push(head.subarray(0, need));
        this.chunks[0] = head.subarray(need);
        need = 0;
      }
    }
    this.buffered -= take;
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, take);
  }

  /** The next n bytes (fewer only at the end of the stream), left unread. */
  async peek(n: number): Promise<Buffer> {
    await this.fill(n);
    return Buffer.concat(this.chunks, Math.min(n, this.buffered));
  }

  /** Everything left, failing past `limit` bytes without holding more than that. */
  async readAll(limit: number, tooLarge: () => never): Promise<Buffer> {
    await this.fill(limit + 1);
    if (this.buffered > limit) tooLarge();
    return this.readCopy(this.buffered);
  }

  /** Exactly n bytes (fewer only at the end of the stream) in a buffer of their own, copied in as they arrive. */
  async readCopy(n: number): Promise<Buffer> {
    const out = Buffer.allocUnsafe(n);
    const got = await this.consume(n, (chunk, at) => chunk.copy(out, at));
    return got === n ? out : out.subarray(0, got);
  }

  /** Discards up to n bytes without holding them; returns how many were discarded. */
  skip(n: number): Promise<number> {
    return this.consume(n, () => {});
  }

  /** Hands up to n bytes to `use` chunk by chunk, holding no more than one chunk; returns how many. */
  private async consume(n: number, use: (chunk: Buffer, at: number) => void): Promise<number> {
    let done = 0;
    while (done < n) {
      if (this.buffered === 0) await this.fill(1);
      if (this.buffered === 0) break;
      const head = this.chunks[0];
      const take = Math.min(head.length, n - done);
      use(head.subarray(0, take), done);
      if (take === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(take);
      this.buffered -= take;
      done += take;
    }
    return done;
  }
}
