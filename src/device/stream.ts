/**
 * Byte-stream devices for vtund's `type pipe` and `type tty`: the tunnel's
 * local end is a program's stdin/stdout instead of a network interface.
 *
 * - pipe: a `socketpair(AF_UNIX, SOCK_STREAM)`; the other end becomes stdin and
 *   stdout of the `up` commands.
 * - tty: a pseudo-terminal; vtund keeps the master and gives the slave to the
 *   `up` commands (typically pppd or slattach). `%d` is the slave's path.
 *
 * Each read (at most one frame's worth) becomes one frame; each received frame
 * is written completely (a short or refused write would corrupt the stream).
 */
import { Errno, errnoName } from "../../ffi/errno.ts";
import { AF_UNIX, check, O_CLOEXEC, O_NONBLOCK, O_RDWR, SOCK_CLOEXEC, SOCK_STREAM, type Libc } from "../../ffi/libc.ts";
import { DeviceError, type Device } from "./device.ts";

const O_NOCTTY = 0o400;
/** ioctls of the pty master and termios (x86_64 and arm64). */
const TIOCSPTLCK = 0x40045431;
const TIOCGPTN = 0x80045430;
const TCGETS = 0x5401;
const TCSETS = 0x5402;
/** Bytes read per frame (vtund's VTUN_FRAME_SIZE). */
const STREAM_CHUNK = 2048;
/**
 * Most bytes held for a program that is slow to read. The link stops reading
 * the network well before this (backpressure), so reaching it means the
 * program stopped reading altogether.
 */
const MAX_BACKLOG = 4 * 1024 * 1024;

/** A stream device: a non-blocking fd on our side, and an fd for the program on the other. */
export class StreamDevice implements Device {
  private closed = false;
  private programFd: number;
  /** Bytes waiting to be written: pending[pendingStart, pendingEnd). */
  private pending = new Uint8Array(64 * 1024);
  private pendingStart = 0;
  private pendingEnd = 0;

  constructor(
    private readonly libc: Libc,
    readonly fd: number,
    readonly name: string,
    programFd: number,
    private readonly kind: "pipe" | "tty",
  ) {
    this.programFd = programFd;
  }

  /**
   * The fd the `up` commands get as stdin and stdout. Taking it transfers
   * ownership: the caller closes it once the commands have started.
   */
  takeProgramFd(): number {
    const fd = this.programFd;
    this.programFd = -1;
    return fd;
  }

  readPacket(buf: Uint8Array, offset: number, capacity: number): number {
    // A stream has no packets: take at most one frame's worth (vtund reads 2048).
    const r = this.libc.read(this.fd, buf, offset, Math.min(capacity, STREAM_CHUNK));
    if (r > 0) return r;
    if (r === -Errno.EAGAIN || r === -Errno.EINTR) return 0;
    // A pipe reads 0 and a pty master EIO once every program holding the other end has exited.
    if (r === 0 || r === -Errno.EIO) throw new DeviceError(`${this.kind}: the program on ${this.name} closed its end`);
    throw new DeviceError(`${this.kind}: read from ${this.name} failed: ${errnoName(r)}`);
  }

  /** Bytes accepted but not yet written. */
  get backlog(): number {
    return this.pendingEnd - this.pendingStart;
  }

  /**
   * Writes all of a frame's bytes: what the fd does not take now is kept and
   * written by {@link flush} when the fd has room (the link polls for that).
   * Never blocks: blocking here while the program waits for us to read its
   * output would deadlock both.
   */
  writePacket(buf: Uint8Array, offset: number, length: number): number {
    let done = 0;
    if (this.backlog === 0) done = this.writeSome(buf, offset, length);
    if (done < length) this.keep(buf, offset + done, length - done);
    return length;
  }

  flush(): void {
    if (this.backlog === 0) return;
    this.pendingStart += this.writeSome(this.pending, this.pendingStart, this.backlog);
    if (this.pendingStart === this.pendingEnd) this.pendingStart = this.pendingEnd = 0;
  }

  /** write() until done or EAGAIN; returns the bytes written. */
  private writeSome(buf: Uint8Array, offset: number, length: number): number {
    let done = 0;
    while (done < length) {
      const r = this.libc.write(this.fd, buf, offset + done, length - done);
      if (r > 0) {
        done += r;
        continue;
      }
      if (r === -Errno.EINTR) continue;
      if (r === -Errno.EAGAIN || r === 0) break;
      if (r === -Errno.EIO || r === -Errno.EPIPE) {
        throw new DeviceError(`${this.kind}: the program on ${this.name} closed its end`);
      }
      throw new DeviceError(`${this.kind}: write to ${this.name} failed: ${errnoName(r)}`);
    }
    return done;
  }

  private keep(buf: Uint8Array, offset: number, length: number): void {
    if (this.backlog + length > MAX_BACKLOG) {
      throw new DeviceError(`${this.kind}: the program on ${this.name} stopped reading (${MAX_BACKLOG} bytes waiting)`);
    }
    if (this.pendingEnd + length > this.pending.length) {
      // Move the waiting bytes to the front, growing the buffer if they still do not fit.
      const waiting = this.pending.subarray(this.pendingStart, this.pendingEnd);
      const size = Math.max(this.pending.length, waiting.length + length);
      const next = size > this.pending.length ? new Uint8Array(Math.min(MAX_BACKLOG, 2 * size)) : this.pending;
      if (next === this.pending) this.pending.copyWithin(0, this.pendingStart, this.pendingEnd);
      else next.set(waiting, 0);
      this.pending = next;
      this.pendingEnd -= this.pendingStart;
      this.pendingStart = 0;
    }
    this.pending.set(buf.subarray(offset, offset + length), this.pendingEnd);
    this.pendingEnd += length;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.libc.close(this.fd);
    if (this.programFd >= 0) this.libc.close(this.programFd);
    this.programFd = -1;
  }
}

/** Opens vtund's `type pipe` device: a connected pair of Unix stream sockets. */
export function openPipe(libc: Libc): StreamDevice {
  const fds = new Int32Array(2);
  check(libc.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), "pipe: socketpair()");
  const [ours, theirs] = [fds[0]!, fds[1]!];
  const r = setNonBlocking(libc, ours);
  if (r < 0) {
    libc.close(ours);
    libc.close(theirs);
    check(r, "pipe: fcntl(O_NONBLOCK)");
  }
  return new StreamDevice(libc, ours, "pipe", theirs, "pipe");
}

/**
 * Opens vtund's `type tty` device: a pseudo-terminal pair. The slave is put in
 * raw mode (8 bits, no echo, no line editing) so any program can use it as a
 * byte stream; pppd and slattach set their own modes anyway.
 */
export function openPty(libc: Libc): StreamDevice {
  const master = check(
    libc.open("/dev/ptmx", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0),
    "tty: cannot open /dev/ptmx",
    (code) => (code === "ENOENT" ? "no pseudo-terminal support (is devpts mounted?)" : undefined),
  );
  try {
    const arg = new Uint8Array(4);
    check(libc.ioctl(master, TIOCSPTLCK, arg), "tty: unlocking the pty (TIOCSPTLCK)");
    check(libc.ioctl(master, TIOCGPTN, arg), "tty: pty number (TIOCGPTN)");
    const path = `/dev/pts/${new DataView(arg.buffer).getUint32(0, true)}`;
    const slave = check(libc.open(path, O_RDWR | O_NOCTTY | O_CLOEXEC, 0), `tty: cannot open ${path}`);
    const r = makeRaw(libc, slave);
    if (r < 0) {
      libc.close(slave);
      check(r, `tty: setting ${path} to raw mode`);
    }
    return new StreamDevice(libc, master, path, slave, "tty");
  } catch (e) {
    libc.close(master);
    throw e;
  }
}

function setNonBlocking(libc: Libc, fd: number): number {
  // fcntl is not in the Libc interface; FIONBIO sets O_NONBLOCK just the same.
  const FIONBIO = 0x5421;
  return libc.ioctl(fd, FIONBIO, new Uint8Array(new Int32Array([1]).buffer));
}

/** cfmakeraw() on the kernel's struct termios (flags are 32-bit words at 0, 4, 8, 12; c_cc at 17). */
function makeRaw(libc: Libc, fd: number): number {
  const t = new Uint8Array(60);
  const r = libc.ioctl(fd, TCGETS, t);
  if (r < 0) return r;
  const v = new DataView(t.buffer);
  const IGNBRK = 0x1, BRKINT = 0x2, PARMRK = 0x8, ISTRIP = 0x20, INLCR = 0x40, IGNCR = 0x80, ICRNL = 0x100, IXON = 0x400;
  const OPOST = 0x1;
  const ISIG = 0x1, ICANON = 0x2, ECHO = 0x8, ECHONL = 0x40, IEXTEN = 0x8000;
  const CSIZE = 0x30, PARENB = 0x100, CS8 = 0x30;
  v.setUint32(0, v.getUint32(0, true) & ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON), true);
  v.setUint32(4, v.getUint32(4, true) & ~OPOST, true);
  v.setUint32(8, (v.getUint32(8, true) & ~(CSIZE | PARENB)) | CS8, true);
  v.setUint32(12, v.getUint32(12, true) & ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN), true);
  t[17 + 6] = 1; // VMIN
  t[17 + 5] = 0; // VTIME
  return libc.ioctl(fd, TCSETS, t);
}
