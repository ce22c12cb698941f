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
// records come at most a page per read: the kernel's seq_file fills its buffer (a page at least)
// record by record and stops before the first record that does not fit. So a first read shorter
// than a page by more than the longest record the file can hold got all of it (a container's
// /proc/<pid>/net/dev, a few lines of at most 353 bytes, is one such read: a second one, to find
// nothing more, cost as much as the first, 50 system calls a tick at 50 containers). A longer
// first read, or a file whose records are not bounded, is read until a read returns nothing.
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
  /**
   * A seq_file of many records none of which is longer than this many bytes (net/dev's lines):
   * a first read more than this much shorter than a page got all of it. Absent: files of many
   * records are read until a read returns nothing.
   */
  recordMaxBytes?: number;
}

/** The smallest page, and so the smallest buffer a seq_file fills per read. */
const SEQ_FILE_BUFFER_MIN = 4096;

/** A kept descriptor on a kernel file, or a path read afresh each time on any other filesystem. */
export function kernelFile(path: string, keepOpen: boolean, options: KernelFileOptions = {}): KernelFile {
  if (!keepOpen) return new PathFile(path);
  // A read shorter than this got the whole file; 0: only a read that returns nothing says so.
  const wholeBelow =
    options.recordMaxBytes === undefined ? 0 : Math.max(0, SEQ_FILE_BUFFER_MIN - options.recordMaxBytes);
  return new KeptOpenFile(path, options.oneRecord ?? false, wholeBelow);
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
  /** A first read shorter than this got the whole file (a seq_file of bounded records); 0: none says so. */
  readonly #wholeBelow: number;
  #fd: number | undefined;

  constructor(path: string, oneRecord: boolean, wholeBelow: number) {
    this.path = path;
    this.#oneRecord = oneRecord;
    this.#wholeBelow = wholeBelow;
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
      // Until a read returns nothing: a file of many records comes at most a page per read,
      // whatever the buffer. A file of one record comes whole in the first read that does not
      // fill the buffer, a seq_file of bounded records in a first read short enough.
      let length = 0;
      for (;;) {
        const buffer = sharedOfAtLeast(length + 1, length);
        const space = buffer.length - length;
        const read = readSync(this.#fd, buffer, length, space, length);
        const first = length === 0;
        length += read;
        if (read === 0 || (this.#oneRecord && read < space) || (first && read < this.#wholeBelow)) break;
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
