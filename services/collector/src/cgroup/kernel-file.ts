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
  /** Releases the descriptor, if one is kept; a later read opens the file again. */
  close(): void;
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
    try {
      return readFileSync(this.path, "utf8");
    } catch {
      return undefined;
    }
  }
  close(): void {}
}

// One buffer for every read: reads are synchronous, and the content is copied into a string at once.
let shared = Buffer.allocUnsafe(16 * 1024);

class KeptOpenFile implements KernelFile {
  readonly path: string;
  readonly #oneRecord: boolean;
  #fd: number | undefined;

  constructor(path: string, oneRecord: boolean) {
    this.path = path;
    this.#oneRecord = oneRecord;
  }

  read(): string | undefined {
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
        if (length === shared.length) {
          const larger = Buffer.allocUnsafe(shared.length * 2);
          shared.copy(larger, 0, 0, length);
          shared = larger;
        }
        const space = shared.length - length;
        const read = readSync(this.#fd, shared, length, space, length);
        length += read;
        if (read === 0 || (this.#oneRecord && read < space)) break;
      }
      // Kernel files are ASCII: latin1 turns bytes into a string without UTF-8 decoding.
      return shared.toString("latin1", 0, length);
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
