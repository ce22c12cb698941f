// One small kernel file (a cgroup counter, /proc/stat, /proc/<pid>/net/dev) read again every tick.
//
// On the cgroup and proc filesystems a read from offset 0 makes the kernel write the file afresh,
// so the collector keeps each file open and reads it with pread(2) from offset 0 until the end:
// a third of the cost of opening, reading and closing it every time, which is what readFileSync
// does (measured on cgroup v1 files: 1.6 µs against 4.6 µs). Once the object behind the file is gone (its cgroup was
// removed, even if one of the same name replaced it), the kept descriptor fails with ENODEV instead
// of showing stale numbers, and the caller opens the path again.
//
// A file the kernel writes as one record (every cgroup file the collector reads, /proc/stat) comes
// whole in the first read whenever it fits the buffer: the kernel formats the whole record before
// it copies any of it. Such a file is read with one pread(2); a read that fills the buffer is
// followed by more, as for any other file. Reading on until a read returns nothing costs a second
// system call per file, and on these filesystems a read at a non-zero offset formats the file
// again to find that offset (2–3 µs a file: a third of a container's reads). Files of many
// records (/proc/<pid>/net/dev: a line per interface) come at most a page per read, so they are
// read until a read returns nothing.
//
// Any other filesystem (the test fixtures' temporary directories, an unusual mount) is read by
// path every time: a regular file that is replaced or removed would otherwise go on showing its
// old content through the kept descriptor.
import { closeSync, openSync, readFileSync, readSync, statfsSync } from "node:fs";

export interface KernelFile {
  readonly path: string;
  /** The file's content now; undefined when it cannot be read (gone, never there, not readable). */
  read(): string | undefined;
  /**
   * Reads the file's content now into kernelFileBytes(), from its start, and returns its length;
   * undefined when it cannot be read. The bytes stay there only until the next read of any
   * kernel file: the hot path parses them in place instead of copying each file into a string.
   */
  readBytes(): number | undefined;
  /** Releases the descriptor, if one is kept; a later read opens the file again. */
  close(): void;
}

// One buffer for every read: reads are synchronous, and each file is parsed (or copied into a
// string) before the next is read. Grown for a larger file, never shrunk.
let shared = Buffer.allocUnsafe(16 * 1024);

/** The buffer the last readBytes() filled (taken after the read: a larger file replaces it). */
export function kernelFileBytes(): Buffer {
  return shared;
}

/** The buffer, at least `length` bytes long, keeping its first `keep` bytes. */
function sharedOfAtLeast(length: number, keep: number): Buffer {
  if (length > shared.length) {
    const larger = Buffer.allocUnsafe(Math.max(length, shared.length * 2));
    shared.copy(larger, 0, 0, keep);
    shared = larger;
  }
  return shared;
}

// Kernel files are ASCII: latin1 turns bytes into a string without UTF-8 decoding.
function asText(length: number | undefined): string | undefined {
  return length === undefined ? undefined : shared.toString("latin1", 0, length);
}

const CGROUP_SUPER_MAGIC = 0x27e0eb;
const CGROUP2_SUPER_MAGIC = 0x63677270;
const PROC_SUPER_MAGIC = 0x9fa0;
const KEPT_OPEN_FILESYSTEMS = new Set([CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC, PROC_SUPER_MAGIC]);

/** Whether files under `dir` regenerate on every read from offset 0 (cgroup and proc filesystems). */
export function regeneratesOnRead(dir: string): boolean {
  try {
    return KEPT_OPEN_FILESYSTEMS.has(statfsSync(dir).type);
  } catch {
    return false;
  }
}

export interface KernelFileOptions {
  /**
   * The kernel writes the file as one record (a cgroup file, /proc/stat): a read that does not
   * fill the buffer got all of it. False (the default) for files of many records.
   */
  oneRecord?: boolean;
}

/** A kept descriptor on a kernel file, or a path read afresh each time on any other filesystem. */
export function kernelFile(path: string, keepOpen: boolean, options: KernelFileOptions = {}): KernelFile {
  return keepOpen ? new KeptOpenFile(path, options.oneRecord ?? false) : new PathFile(path);
}

class PathFile implements KernelFile {
  readonly path: string;
  constructor(path: string) {
    this.path = path;
  }
  read(): string | undefined {
    return asText(this.readBytes());
  }
  readBytes(): number | undefined {
    let content: Buffer;
    try {
      content = readFileSync(this.path);
    } catch {
      return undefined;
    }
    content.copy(sharedOfAtLeast(content.length, 0));
    return content.length;
  }
  close(): void {}
}

class KeptOpenFile implements KernelFile {
  readonly path: string;
  readonly #oneRecord: boolean;
  #fd: number | undefined;

  constructor(path: string, oneRecord: boolean) {
    this.path = path;
    this.#oneRecord = oneRecord;
  }

  read(): string | undefined {
    return asText(this.readBytes());
  }

  readBytes(): number | undefined {
    if (this.#fd === undefined) {
      try {
        this.#fd = openSync(this.path, "r");
      } catch {
        return undefined;
      }
    }
    try {
      // Until a read returns nothing: a file of many records (net/dev with many interfaces) comes
      // at most a page per read, whatever the buffer. A file of one record comes whole in the
      // first read that does not fill the buffer.
      let length = 0;
      for (;;) {
        const buffer = sharedOfAtLeast(length + 1, length);
        const space = buffer.length - length;
        const read = readSync(this.#fd, buffer, length, space, length);
        length += read;
        if (read === 0 || (this.#oneRecord && read < space)) break;
      }
      return length;
    } catch {
      this.close();
      return undefined;
    }
  }

  close(): void {
    if (this.#fd === undefined) return;
    try {
      closeSync(this.#fd);
    } catch {
      // A descriptor that cannot be closed is of no use either; it is forgotten all the same.
    }
    this.#fd = undefined;
  }
}
